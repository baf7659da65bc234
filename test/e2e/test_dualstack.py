"""Dual-stack name resolution (issue #9, "Done when" 1): run by test/e2e/isolate.py
--stock-hosts, so "localhost" resolves to ::1 first and then 127.0.0.1, as on a stock Debian 12.
The Dragonfly components listen on "localhost" (every address of the name) and name each other
by it; the origin, the TLS origin and the registry listen on one family only: IPv4 in
OriginOnIPv4Test, IPv6 in OriginOnIPv6Test. Every client path must find the address that
answers: the proxy's CONNECT tunnel, the registry mirror, dfget back-to-source and through
peers, and a registry pull by host name."""

import hashlib
import os
import shutil
import socket
import subprocess
import unittest

import registry as R
from cluster import sha256_file

MIB = 1 << 20
ISOLATION = os.environ.get("DF_E2E_ISOLATION", "")
SKOPEO = shutil.which(R.SKOPEO_BIN) and shutil.which(R.REGISTRY_BIN)


def localhost_order():
    return [a[4][0] for a in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)]


@unittest.skipUnless(ISOLATION == "stock-hosts",
                     "run through test/e2e/isolate.py --stock-hosts "
                     f"({os.environ.get('DF_E2E_ISOLATION_WHY', 'not isolated')})")
class _StockHosts(R.ClusterWithRegistryTest):
    ORIGIN_BIND = None  # the one address the servers listen on
    PREFIX = "df-dualstack-"

    @classmethod
    def start_processes(cls):
        order = localhost_order()
        assert order[0] == "::1" and "127.0.0.1" in order, \
            f"/etc/hosts is not the stock one: localhost -> {order}"
        cls.cert, key = cls.c.self_signed_cert("localhost")
        cls.origin = cls.c.origin(bind=cls.ORIGIN_BIND)
        cls.tls_origin = cls.c.origin(tls=(cls.cert, key), bind=cls.ORIGIN_BIND,
                                      name="tls-origin")
        cls.sched = cls.c.scheduler(listen_host="localhost")
        named = {"host": {"ip": None},  # derived from upload.listen: every address
                 "upload": {"listen": "localhost:0", "rpcListen": "localhost:0"},
                 "metrics": {"listen": "localhost:0"}}
        # The mirror's default upstream is the registry (skopeo sends neither ns= nor a
        # header); the blob test names the origin with ns=.
        mirror = {"listen": "localhost:0",
                  "registryMirror": {"addr": f"http://localhost:{cls.origin.port}",
                                     "nsScheme": "http"}}
        cls.registry = None
        if SKOPEO:
            tls = cls.env.tls()
            cls.registry = cls.env.registry(tls=tls, bind=cls.ORIGIN_BIND,
                                            host_name="localhost")
            mirror["registryMirror"]["addr"] = cls.registry.url
            mirror["registries"] = [{"host": cls.registry.host, "caCert": cls.registry.ca}]
        cfg = dict(named, proxy=mirror)
        cls.seed = cls.c.daemon("seed", cls.sched, seed=True, extra=cfg)
        cls.a = cls.c.daemon("host-a", cls.sched, extra=cfg)
        cls.b = cls.c.daemon("host-b", cls.sched, extra=cfg)
        cls.alone = cls.c.daemon("alone", None, extra=cfg)  # no scheduler: back-to-source

    def out(self, name):
        d = os.path.join(self.c.dir, "out")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def proxy(self, daemon):
        return f"http://localhost:{daemon.proxy_port}"

    def test_servers_listen_on_one_family_only(self):
        other = "127.0.0.1" if self.ORIGIN_BIND == "::1" else "::1"
        with self.assertRaises(OSError):
            socket.create_connection((other, self.origin.port), timeout=5).close()
        socket.create_connection((self.ORIGIN_BIND, self.origin.port), timeout=5).close()

    def test_daemons_listen_and_announce_every_address_of_localhost(self):
        for ip in ("::1", "127.0.0.1"):
            socket.create_connection((ip, self.a.proxy_port), timeout=5).close()
            socket.create_connection((ip, self.a.metrics_port), timeout=5).close()
        self.assertIn("host announced id=::1-host-a ips=::1,127.0.0.1", self.sched.logs())

    def test_connect_tunnel(self):
        path = self.c.make_file("tunnel.bin", 1 * MIB)
        out = self.out("tunnel.bin")
        before = self.a.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "tunnel"})
        r = subprocess.run(["curl", "-sS", "-f", "-x", self.proxy(self.a), "--cacert", self.cert,
                            "-o", out, self.tls_origin.url("tunnel.bin", "localhost")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(out), sha256_file(path))
        self.assertEqual(self.a.metric("dragonfly_dfdaemon_proxy_requests_total",
                                       {"kind": "tunnel"}) - before, 1)

    def test_mirror_blob_through_p2p(self):
        data = os.urandom(3 * MIB + 5)
        digest = hashlib.sha256(data).hexdigest()
        blobs = os.path.join(self.c.origin_root, "v2", "lib", "app", "blobs")
        os.makedirs(blobs, exist_ok=True)
        with open(os.path.join(blobs, "sha256:" + digest), "wb") as f:
            f.write(data)
        out = self.out("blob")
        # The registry named by ns= (as containerd sends it), by name.
        ns = f"ns=localhost:{self.origin.port}"
        r = subprocess.run(["curl", "-sS", "-f", "-o", out, "-D", "-",
                            f"{self.proxy(self.b)}/v2/lib/app/blobs/sha256:{digest}?{ns}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertIn(f"sha256:{digest}", r.stdout)  # Docker-Content-Digest
        self.assertGreaterEqual(
            self.b.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}), 1)

    def test_dfget_back_to_source_and_from_peers(self):
        src = self.c.make_file("file.bin", 8 * MIB)
        want = sha256_file(src)
        url = self.origin.url("file.bin", "localhost")
        # No scheduler: straight from the origin, by name.
        self.alone.dfget(url, self.out("alone.bin"))
        self.assertEqual(sha256_file(self.out("alone.bin")), want)
        # Through the scheduler: the seed fetches by name, host A and B trade over the addresses
        # the scheduler hands out.
        self.a.dfget(url, self.out("a.bin"))
        self.b.dfget(url, self.out("b.bin"))
        for name in ("a.bin", "b.bin"):
            self.assertEqual(sha256_file(self.out(name)), want)
        for d in (self.a, self.b):
            self.assertEqual(d.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0)
        self.assertGreater(self.b.metric("dragonfly_dfdaemon_download_bytes_total",
                                         {"source": "remote_peer"}), 0)
        # The task ID depends on the URL only (Dragonfly's rule), not on the address it reached.
        task_id = hashlib.sha256((url + "STANDARD").encode()).hexdigest()
        self.assertIn(task_id, self.a.dfctl("list"))

    @unittest.skipUnless(SKOPEO, "skopeo and docker-registry are not installed")
    def test_registry_pull_by_host_name(self):
        image = R.push_image(self.registry, "dfly/named", "v1", layers=(2 * MIB, 1 * MIB),
                             seed=self.ORIGIN_BIND.count(":") + 909)
        family = "v6" if ":" in self.ORIGIN_BIND else "v4"
        conf = self.env.path(f"registries-{family}.conf")
        R.write_registries_conf(conf, self.registry.host,
                                mirrors=[{"location": f"localhost:{self.a.proxy_port}",
                                          "insecure": True}])
        before = self.a.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"})
        out = self.env.path(f"skopeo-{family}")
        r = R.skopeo_copy(image["ref"], out, registries_conf=conf, cert_dir=self.registry.ca_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        blobs = R.oci_layout_blobs(out)
        for d in image["layer_digests"]:
            self.assertIn(d, blobs)
            self.assertEqual(self.registry.blob_gets(d, status=(200, 206)), 1)
        self.assertGreaterEqual(
            self.a.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}) - before,
            len(image["layer_digests"]))


class OriginOnIPv4Test(_StockHosts):
    ORIGIN_BIND = "127.0.0.1"


class OriginOnIPv6Test(_StockHosts):
    ORIGIN_BIND = "::1"


del _StockHosts  # not a test of its own

if __name__ == "__main__":
    unittest.main()
