"""End-to-end tests of the dfdaemon registry mirror and HTTP proxy with the test origin standing
in for a registry (issue #4). The real-registry + containerd tests are in test_containerd.py."""

import hashlib
import json
import http.client
import os
import signal
import socket
import socketserver
import subprocess
import threading
import unittest
import urllib.parse

from cluster import BIN, Cluster, wait_for

MIB = 1 << 20


def request(port, method, target, headers=(), timeout=60):
    """One request on a fresh connection; headers may repeat. Returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{port}")
    for k, v in headers:
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read() if method != "HEAD" else b""
    conn.close()
    return r.status, r.headers, body


class MirrorTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()
        self.registry_root = self.c.origin_root

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def add_blob(self, repo, size, corrupt=False):
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        d = os.path.join(self.registry_root, "v2", repo, "blobs")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "sha256:" + digest), "wb") as f:
            f.write(data[:-1] + bytes([data[-1] ^ 0xFF]) if corrupt else data)
        return digest, data

    def set_manifest(self, repo, tag, body):
        d = os.path.join(self.registry_root, "v2", repo, "manifests")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, tag), "wb") as f:
            f.write(body)

    def mirror_daemons(self, n=2, origin_args=(), extra=None):
        self.origin = self.c.origin(extra_args=origin_args)
        sched = self.c.scheduler()
        proxy = {"registryMirror": {"nsScheme": "http",
                                    "addr": f"http://127.0.0.1:{self.origin.port}"}}
        proxy.update((extra or {}).get("proxy", {}))
        cfg = {"proxy": {"listen": "127.0.0.1:0", **proxy}}
        self.c.daemon("seed", sched, seed=True, extra=cfg)
        return [self.c.daemon(f"host{i}", sched, extra=cfg) for i in range(n)]

    def ns(self):
        return f"ns=127.0.0.1:{self.origin.port}"

    def blob_bytes_served(self, digest):
        stats = self.origin.stats()["bytes"]
        return sum(v for k, v in stats.items() if digest in k)

    def test_blob_goes_p2p_once_across_hosts(self):
        a, b = self.mirror_daemons()
        digest, data = self.add_blob("lib/app", 12 * MIB)
        path = f"/v2/lib/app/blobs/sha256:{digest}"
        st, hdr, body = request(a.proxy_port, "GET", f"{path}?{self.ns()}")
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(hdr["Docker-Content-Digest"], "sha256:" + digest)
        # Host B routes by X-Dragonfly-Registry instead of ns=.
        st, _, body = request(b.proxy_port, "GET", path,
                              [("X-Dragonfly-Registry", f"http://127.0.0.1:{self.origin.port}")])
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(self.blob_bytes_served(digest), len(data))
        for d in (a, b):
            self.assertGreaterEqual(
                d.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}), 1)
        self.assertEqual(b.metric("dragonfly_dfdaemon_download_bytes_total",
                                  {"source": "remote_peer"}), len(data))

    def test_default_upstream_and_repeated_accept_lines(self):
        (a,) = self.mirror_daemons(1)
        self.set_manifest("lib/app", "v1", b'{"v": 1}')
        accepts = [("Accept", "application/vnd.oci.image.manifest.v1+json"),
                   ("Accept", "application/vnd.docker.distribution.manifest.v2+json")]
        st, _, body = request(a.proxy_port, "GET", "/v2/lib/app/manifests/v1?echo=1", accepts)
        self.assertEqual(st, 200)
        import json
        echoed = json.loads(body)
        self.assertEqual(echoed["_accept_lines"], [v for _, v in accepts])
        self.assertNotIn("ns", body.decode())

    def test_manifests_are_not_cached(self):
        (a,) = self.mirror_daemons(1)
        self.set_manifest("lib/app", "latest", b'{"v": 1}')
        target = f"/v2/lib/app/manifests/latest?{self.ns()}"
        self.assertEqual(request(a.proxy_port, "GET", target)[2], b'{"v": 1}')
        self.set_manifest("lib/app", "latest", b'{"v": 2}')  # a re-pushed tag
        self.assertEqual(request(a.proxy_port, "GET", target)[2], b'{"v": 2}')
        st, hdr, _ = request(a.proxy_port, "HEAD", target)
        self.assertEqual(st, 200)
        self.assertEqual(hdr["Content-Length"], "8")

    def test_open_ended_range_resumes(self):
        (a,) = self.mirror_daemons(1)
        digest, data = self.add_blob("lib/app", 9 * MIB + 17)
        target = f"/v2/lib/app/blobs/sha256:{digest}?{self.ns()}"
        offset = 5 * MIB + 3
        st, hdr, body = request(a.proxy_port, "GET", target, [("Range", f"bytes={offset}-")])
        self.assertEqual(st, 206)
        self.assertEqual(hdr["Content-Range"], f"bytes {offset}-{len(data) - 1}/{len(data)}")
        self.assertEqual(body, data[offset:])
        st, _, _ = request(a.proxy_port, "GET", target, [("Range", f"bytes={len(data)}-")])
        self.assertEqual(st, 416)

    def test_private_blob_needs_credentials_even_when_cached(self):
        (a,) = self.mirror_daemons(1, origin_args=["--auth-prefix", "/v2/private/",
                                                   "--auth-token", "s3cret"])
        digest, data = self.add_blob("private/app", 3 * MIB)
        target = f"/v2/private/app/blobs/sha256:{digest}?{self.ns()}"
        st, _, body = request(a.proxy_port, "GET", target, [("Authorization", "Bearer s3cret")])
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        for headers in ([], [("Authorization", "Bearer wrong")]):
            st, hdr, body = request(a.proxy_port, "GET", target, headers)
            self.assertEqual(st, 401)
            self.assertIn("Bearer realm", hdr["WWW-Authenticate"])
            self.assertNotIn(data[:64], body)

    def test_blob_redirect_drops_credentials_for_the_other_host(self):
        (a,) = self.mirror_daemons(1)
        digest, data = self.add_blob("lib/app", 3 * MIB)
        cdn_root = os.path.join(self.c.dir, "cdn")
        os.makedirs(cdn_root)
        with open(os.path.join(cdn_root, "blob"), "wb") as f:
            f.write(data)
        from cluster import Origin
        cdn = self.c.add(Origin(self.c.dir, cdn_root, name="cdn"))
        # "localhost" is another host than 127.0.0.1 for the HTTP client.
        to = f"http://localhost:{cdn.port}/blob"
        target = f"/v2/lib/app/blobs/sha256:{digest}?redirect_to={to}&{self.ns()}"
        st, _, body = request(a.proxy_port, "GET", target, [("Authorization", "Bearer tok")])
        self.assertEqual((st, body), (200, data))
        self.assertGreaterEqual(self.origin.stats()["authorized_requests"], 1)
        self.assertEqual(cdn.stats()["authorized_requests"], 0)
        self.assertEqual(cdn.stats()["total_bytes"], len(data))

    def test_wrong_digest_is_never_served_whole_nor_cached(self):
        (a,) = self.mirror_daemons(1)
        digest, data = self.add_blob("lib/app", 5 * MIB, corrupt=True)
        target = f"/v2/lib/app/blobs/sha256:{digest}?{self.ns()}"
        for _ in range(2):
            with self.assertRaises(http.client.IncompleteRead):
                request(a.proxy_port, "GET", target)
        self.assertEqual(a.dfctl("list").strip(), "")

    def test_bad_input_gets_clear_errors_and_daemon_keeps_serving(self):
        (a,) = self.mirror_daemons(1, extra={"proxy": {"upstreamTimeout": "2s"}})
        digest, data = self.add_blob("lib/app", 2 * MIB)
        port = a.proxy_port

        def raw(payload):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(payload)
                return s.recv(4096).decode(errors="replace")

        self.assertIn(" 400 ", raw(b"NOT A REQUEST\r\n\r\n"))
        self.assertIn(" 431 ", raw(b"GET /v2/ HTTP/1.1\r\nX-Big: " + b"a" * MIB + b"\r\n\r\n"))
        st, hdr, _ = request(port, "GET", f"/v2/lib/app/blobs/sha256:{digest}?ns=bad/host")
        self.assertEqual(st, 400)
        self.assertEqual(hdr["X-Dragonfly-Error-Type"], "proxy")
        st, hdr, _ = request(port, "GET", f"/v2/lib/app/blobs/sha256:{digest}?ns=127.0.0.1:1")
        self.assertEqual(st, 502)
        self.assertEqual(hdr["X-Dragonfly-Error-Type"], "backend")
        st, _, _ = request(port, "GET", f"/v2/lib/app/blobs/sha256:{'0' * 64}?{self.ns()}")
        self.assertEqual(st, 404)
        # An upstream that hangs: a clear 504 after proxy.upstreamTimeout (2 s here).
        self.set_manifest("lib/app", "v1", b"{}")
        st, hdr, _ = request(port, "GET", f"/v2/lib/app/manifests/v1?hang=30&{self.ns()}")
        self.assertEqual((st, hdr["X-Dragonfly-Error-Type"]), (504, "backend"))
        st, hdr, _ = request(port, "GET", f"/v2/lib/app/blobs/sha256:{digest}?hang=30&{self.ns()}")
        self.assertEqual((st, hdr["X-Dragonfly-Error-Type"]), (504, "backend"))
        # An upstream error keeps its status and says which side failed.
        st, hdr, _ = request(port, "GET", f"/v2/lib/app/manifests/v1?status=503&{self.ns()}")
        self.assertEqual((st, hdr["X-Dragonfly-Error-Type"]), (503, "backend"))
        # An upstream that resets mid-body: the back-to-source fetch resumes by range.
        st, _, body = request(port, "GET",
                              f"/v2/lib/app/blobs/sha256:{digest}?reset_after=100000&{self.ns()}")
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        st, _, body = request(port, "GET", f"/v2/lib/app/blobs/sha256:{digest}?{self.ns()}")
        self.assertEqual((st, body), (200, data))


class ProxyTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def test_plain_http_through_proxy_with_p2p(self):
        origin = self.c.origin()
        path = self.c.make_file("file.bin", 6 * MIB)
        d = self.c.daemon("d", extra={"proxy": {"listen": "127.0.0.1:0"}})
        out = os.path.join(self.c.dir, "file.out")
        r = subprocess.run(["curl", "-sS", "-f", "-x", f"http://127.0.0.1:{d.proxy_port}",
                            "-H", "X-Dragonfly-Use-P2P: true", "-o", out, origin.url("file.bin")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f, open(path, "rb") as g:
            self.assertEqual(f.read(), g.read())
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}), 1)

    def test_upstream_framing_is_rebuilt_from_what_is_relayed(self):
        """An upstream answering with both Content-Length and chunked encoding (the shape of a
        response-splitting attack) or with two different lengths: the client gets framing that
        matches the body it is sent, and the next response on its connection is the real one."""
        smuggled = b"HTTP/1.1 200 OK\r\nX-Evil: 1\r\nContent-Length: 0\r\n\r\n"
        body = b"hello" + smuggled
        responses = {
            "/both": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                     b"\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n",
            "/two": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: %d\r\n\r\n"
                    % len(body) + body,
            "/ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        }

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    path = urllib.parse.urlsplit(line.split()[1].decode()).path
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    self.wfile.write(responses[path])
                    self.wfile.flush()

        upstream = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        upstream.daemon_threads = True
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{upstream.server_address[1]}"
            d = self.c.daemon("d", extra={"proxy": {"listen": "127.0.0.1:0"}})
            for path in ("/both", "/two"):
                conn = http.client.HTTPConnection("127.0.0.1", d.proxy_port, timeout=30)
                try:
                    conn.request("GET", base + path)
                    r = conn.getresponse()
                    got = r.read()
                    if path == "/both" or r.status == 200:
                        self.assertEqual((r.status, got), (200, body), path)
                    if path == "/both" or not r.will_close:  # the connection is reused: the next answer is real
                        conn.request("GET", base + "/ok")
                        r2 = conn.getresponse()
                        self.assertIsNone(r2.getheader("X-Evil"), path)
                        self.assertEqual((r2.status, r2.read()), (200, b"ok"), path)
                finally:
                    conn.close()
        finally:
            upstream.shutdown()
            upstream.server_close()

    def test_daemon_stops_cleanly_mid_response(self):
        origin = self.c.origin()
        self.c.make_file("slow.bin", 8 * MIB)
        d = self.c.daemon("d", extra={"proxy": {"listen": "127.0.0.1:0"}})
        out = os.path.join(self.c.dir, "slow.out")
        curl = subprocess.Popen(["curl", "-sS", "-x", f"http://127.0.0.1:{d.proxy_port}",
                                 "-H", "X-Dragonfly-Use-P2P: true", "-o", out,
                                 origin.url("slow.bin") + f"?slow={1 * MIB}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: d.metric("dragonfly_dfdaemon_proxy_p2p_bytes_total") > 0,
                     timeout=30, what="the response under way")
            # SIGTERM while the response waits for pieces: a clean exit, not a crash.
            self.assertEqual(d.kill(signal.SIGTERM), 0)
        finally:
            curl.kill()
            curl.wait()

    def test_connect_tunnels_tls_untouched(self):
        cert, key = self.c.self_signed_cert()
        origin = self.c.origin(tls=(cert, key))
        path = self.c.make_file("tls.bin", 1 * MIB)
        d = self.c.daemon("d", extra={"proxy": {"listen": "127.0.0.1:0"}})
        out = os.path.join(self.c.dir, "tls.out")
        r = subprocess.run(["curl", "-sS", "-f", "-x", f"http://127.0.0.1:{d.proxy_port}",
                            "--cacert", cert, "-o", out, origin.url("tls.bin", "localhost")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f, open(path, "rb") as g:
            self.assertEqual(f.read(), g.read())
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "tunnel"}), 1)

    def curl_via(self, d, url, out, *args):
        return subprocess.run(["curl", "-sS", "-f", "-x", f"http://127.0.0.1:{d.proxy_port}",
                               "-o", out, *args, url], capture_output=True, text=True, timeout=60)

    def test_https_interception_is_opt_in_per_host_and_serves_through_p2p(self):
        cert, key = self.c.self_signed_cert()
        origin = self.c.origin(tls=(cert, key))
        path = self.c.make_file("mitm.bin", 4 * MIB)
        d = self.c.daemon("d", extra={
            "proxy": {"listen": "127.0.0.1:0", "rules": [{"regex": r"mitm\.bin$"}],
                      "hijackHTTPS": {"hosts": [{"regx": rf"localhost:{origin.port}"}]}},
            "backSource": {"caCert": cert}})
        # No CA configured: one was generated at first start, next to the store.
        ca = os.path.join(d.home, "proxy-ca.crt")
        self.assertTrue(os.path.exists(ca), "generated CA missing")
        self.assertEqual(os.stat(os.path.join(d.home, "proxy-ca.key")).st_mode & 0o777, 0o600)
        out = os.path.join(self.c.dir, "mitm.out")
        # The client trusts only the generated CA: the proxy's certificate for the host
        # verifies (no -k), and the request inside the tunnel goes through P2P.
        r = self.curl_via(d, origin.url("mitm.bin", "localhost"), out, "--cacert", ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f, open(path, "rb") as g:
            self.assertEqual(f.read(), g.read())
        kind = {"kind": "intercepted"}
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", kind), 1)
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}), 1)
        served = origin.stats()["total_bytes"]
        # Again: from the local store, the origin sends nothing more.
        os.unlink(out)
        r = self.curl_via(d, origin.url("mitm.bin", "localhost"), out, "--cacert", ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f, open(path, "rb") as g:
            self.assertEqual(f.read(), g.read())
        self.assertEqual(origin.stats()["total_bytes"], served)
        # A client that does not trust the CA refuses the intercepted connection.
        r = self.curl_via(d, origin.url("mitm.bin", "localhost"), out, "--cacert", cert)
        self.assertEqual(r.returncode, 60, r.stderr)
        # A host no pattern names is tunnelled untouched: the origin's own certificate.
        r = self.curl_via(d, origin.url("mitm.bin", "127.0.0.1"), out, "--cacert", cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "tunnel"}),
                         1)
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total", kind), 3)
        # A restart keeps the generated CA (clients keep trusting it).
        with open(ca, "rb") as f:
            before = f.read()
        self.assertEqual(d.kill(signal.SIGTERM), 0)
        d.start()
        with open(ca, "rb") as f:
            self.assertEqual(f.read(), before)
        r = self.curl_via(d, origin.url("mitm.bin", "localhost"), out, "--cacert", ca)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_https_interception_with_configured_ca(self):
        cert, key = self.c.self_signed_cert()
        origin = self.c.origin(tls=(cert, key))
        path = self.c.make_file("page.txt", 1000)
        ca_key = os.path.join(self.c.dir, "myca.key")
        ca_cert = os.path.join(self.c.dir, "myca.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=My CA",
                        "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                        "keyUsage=critical,keyCertSign", "-keyout", ca_key, "-out", ca_cert],
                       check=True, capture_output=True)
        extra = {"proxy": {"listen": "127.0.0.1:0",
                           "hijackHTTPS": {"cert": ca_cert, "key": ca_key,
                                           "hosts": [r"localhost:\d+"]}},
                 "backSource": {"caCert": cert}}
        d = self.c.daemon("d", extra=extra)
        out = os.path.join(self.c.dir, "page.out")
        # Not a P2P rule match: forwarded (passthrough) inside the intercepted connection,
        # keep-alive across two requests on one TLS connection.
        r = subprocess.run(["curl", "-sS", "-f", "-x", f"http://127.0.0.1:{d.proxy_port}",
                            "--cacert", ca_cert, "-o", out, origin.url("page.txt", "localhost"),
                            "-o", out + "2", origin.url("page.txt", "localhost")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for o in (out, out + "2"):
            with open(o, "rb") as f, open(path, "rb") as g:
                self.assertEqual(f.read(), g.read())
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total",
                                  {"kind": "intercepted"}), 1)
        self.assertEqual(d.metric("dragonfly_dfdaemon_proxy_requests_total",
                                  {"kind": "passthrough"}), 2)
        self.assertFalse(os.path.exists(os.path.join(d.home, "proxy-ca.crt")))
        # A key that is not the certificate's: the daemon refuses to start, naming the files.
        other_key = os.path.join(self.c.dir, "other.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", other_key], check=True)
        bad = os.path.join(self.c.dir, "bad.yaml")
        with open(bad, "w") as f:
            json.dump({"server": {"socketPath": os.path.join(self.c.dir, "bad.sock")},
                       "storage": {"dir": os.path.join(self.c.dir, "bad-store")},
                       "upload": {"listen": "127.0.0.1:0", "rpcListen": "127.0.0.1:0"},
                       "metrics": {"listen": "127.0.0.1:0"},
                       "proxy": {"listen": "127.0.0.1:0",
                                 "hijackHTTPS": {"cert": ca_cert, "key": other_key,
                                                 "hosts": ["x:443"]}}}, f)
        r = subprocess.run([os.path.join(BIN, "dfdaemon"), "--config", bad],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not the key of", r.stderr)

    def test_basic_auth_and_no_open_relay(self):
        origin = self.c.origin()
        self.c.make_file("f.bin", 1024)
        d = self.c.daemon("d", extra={"proxy": {"listen": "127.0.0.1:0",
                                                "basicAuth": {"username": "u",
                                                              "password": "p"}}})
        base = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x",
                f"http://127.0.0.1:{d.proxy_port}", origin.url("f.bin")]
        self.assertEqual(subprocess.run(base, capture_output=True, text=True).stdout, "407")
        self.assertEqual(subprocess.run(base + ["-U", "u:p"], capture_output=True,
                                        text=True).stdout, "200")
        # Listening beyond loopback, it relays only to hosts a rule, the mirror or allowHosts
        # names.
        wide = self.c.daemon("wide", extra={"proxy": {"listen": "0.0.0.0:0"}})
        argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x",
                f"http://127.0.0.1:{wide.proxy_port}", origin.url("f.bin")]
        self.assertEqual(subprocess.run(argv, capture_output=True, text=True).stdout, "403")
        st, _, _ = request(wide.proxy_port, "GET", f"/v2/x/manifests/v1?ns=127.0.0.1:{origin.port}")
        self.assertEqual(st, 403)
        allowed = self.c.daemon("allowed", extra={"proxy": {
            "listen": "0.0.0.0:0", "allowHosts": [r"127\.0\.0\.1:\d+"]}})
        argv[-2] = f"http://127.0.0.1:{allowed.proxy_port}"
        self.assertEqual(subprocess.run(argv, capture_output=True, text=True).stdout, "200")


if __name__ == "__main__":
    unittest.main()
