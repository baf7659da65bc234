"""Attacks on the cluster by a host that can reach its ports (issue #11), played by
build/tests/rogue_peer and a raw piece-protocol client against real processes on loopback: a task
ID bound to another URL, a seed told to fetch other content, a blob task whose URL serves other
bytes, pieces read without the scheduler's grant, secrets in logs, private blobs, relay bypass."""

import hashlib
import os
import socket
import struct
import subprocess
import unittest

from cluster import LOOPBACK, Cluster, hostport, sha256_file, wait_for
from piece_wire import (ERROR, HELLO, TESTS_DIR, UNAUTHORIZED, connect, decode_error, grants,
                        hello, read_frame, rogue)
from test_mirror import request

MIB = 1 << 20


class TrustTest(unittest.TestCase):
    """A cluster in a temp dir per test; every process must end cleanly."""

    def setUp(self):
        self.c = Cluster(prefix="df-trust-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")


class TaskPoisoningTest(TrustTest):
    def test_a_task_id_cannot_be_bound_to_another_url(self):
        origin = self.c.origin()
        good = sha256_file(self.c.make_file("good.bin", 6 * MIB))
        self.c.make_file("evil.bin", 6 * MIB)
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        victim = self.c.daemon("victim", sched)
        url = origin.url("good.bin")
        task_id = hashlib.sha256((url + "STANDARD").encode()).hexdigest()  # Dragonfly's rule
        evil = origin.url("evil.bin")
        # The attacker registers the victim's task with its own URL, at the scheduler ...
        said = rogue("register", sched.addr, task_id, evil)
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        self.assertIn("is not the ID of", said)
        # ... and straight at the seed peer.
        said = rogue("trigger", hostport(int(seed.match.group(2))), task_id, evil)
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        # The victim gets the real bytes, and nobody fetched the attacker's URL.
        out = os.path.join(self.c.dir, "good.out")
        victim.dfget(url, out)
        self.assertEqual(sha256_file(out), good)
        self.assertNotIn("/evil.bin", origin.stats()["requests"])

    def test_a_blob_task_is_never_completed_with_other_bytes(self):
        """A blob task's ID is its digest, and any repository's URL of that digest names it. A
        host that registers it with a URL serving other bytes gets the seed to fetch them, but
        the seed checks the digest before it stores the last piece: the task never completes,
        its pieces are discarded, and a real pull through the mirror gets the real blob."""
        origin = self.c.origin()
        sched = self.c.scheduler()
        proxy = {"listen": "127.0.0.1:0",
                 "registryMirror": {"nsScheme": "http", "addr": origin.url("").rstrip("/")}}
        seed = self.c.daemon("seed", sched, seed=True, extra={"proxy": proxy})
        host = self.c.daemon("host", sched, extra={"proxy": proxy})
        data = os.urandom(9 * MIB + 5)
        digest = hashlib.sha256(data).hexdigest()
        for repo, body in (("lib/app", data), ("evil/app", os.urandom(len(data)))):
            d = os.path.join(self.c.origin_root, "v2", repo, "blobs")
            os.makedirs(d)
            with open(os.path.join(d, "sha256:" + digest), "wb") as f:
                f.write(body)
        evil = origin.url(f"v2/evil/app/blobs/sha256:{digest}")
        said = rogue("register", sched.addr, digest, evil)
        self.assertTrue(said.startswith("accepted"), said)  # the URL does name the digest
        wait_for(lambda: "does not match the task's digest" in seed.logs(), timeout=60,
                 what="the seed to refuse the other bytes")
        self.assertNotIn(digest, seed.dfctl("list"))
        port = origin.port
        st, hdr, body = request(host.proxy_port, "GET",
                                f"/v2/lib/app/blobs/sha256:{digest}?ns=127.0.0.1:{port}")
        self.assertEqual(st, 200)
        self.assertEqual(hashlib.sha256(body).hexdigest(), digest)


class PieceReadTest(TrustTest):
    """Task IDs are URL hashes and blob digests, not secrets: a host's piece port serves a task
    only to a connection that shows the scheduler's grant (a piece token) for that task and
    peer ID, signed by a scheduler this host announced to and not expired."""

    def test_only_a_peer_the_scheduler_registered_reads_a_task(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("private.bin", 4 * MIB))
        self.c.make_file("other.bin", 1 * MIB)
        sched = self.c.scheduler("scheduler:\n  pieceTokenTTL: 2s\n")
        self.c.daemon("seed", sched, seed=True)
        holder = self.c.daemon("holder", sched)
        url = origin.url("private.bin")
        out = os.path.join(self.c.dir, "private.out")
        holder.dfget(url, out)  # trades with the seed under the short-lived grants
        self.assertEqual(sha256_file(out), want)
        task_id = hashlib.sha256((url + "STANDARD").encode()).hexdigest()
        self.assertIn(task_id, holder.dfctl("list"))
        port = int(holder.match.group(1))

        def answer(token, peer="thief", task=task_id):
            with connect(port, timeout=10) as s:
                s.sendall(hello(task, peer, token))
                kind, payload = read_frame(s)
                return kind, decode_error(payload) if kind == ERROR else None

        def refused(why, token, **kw):
            kind, err = answer(token, **kw)
            self.assertEqual(kind, ERROR, f"{why}: served")
            self.assertEqual(err[0], UNAUTHORIZED, f"{why}: {err}")
            return err[1]

        # Naming the task is not enough, and the refusal does not tell whether it is stored.
        self.assertIn("no piece token", refused("no token", b""))
        self.assertIn("no piece token", refused("no token, unknown task", b"", task="f" * 64))
        # A grant the attacker got honestly, for a file it may fetch, used for this task.
        other_url = origin.url("other.bin")
        other_task = hashlib.sha256((other_url + "STANDARD").encode()).hexdigest()
        other = grants(sched.addr, other_task, other_url, ["thief-b"])["thief-b"]
        self.assertIn("another task", refused("other task's grant", other, peer="thief-b"))
        # The same grant with this task's ID written in: the signature does not match.
        altered = other.replace(other_task.encode(), task_id.encode())
        self.assertIn("bad signature", refused("altered grant", altered, peer="thief-b"))
        # A grant made up with a key of its own.
        forged = (b"\1" + os.urandom(8) + struct.pack("<q", 2**40) + bytes([64]) +
                  task_id.encode() + bytes([5]) + b"thief" + os.urandom(64))
        self.assertIn("unknown key", refused("forged grant", forged))
        # A host registered for the task reads it (the control) ...
        mine = grants(sched.addr, task_id, url, ["thief", "other-peer"])
        self.assertEqual(answer(mine["thief"])[0], HELLO)
        # ... (the grant is the task's: any peer that registered it may show it) but not once
        # the grant expired (TTL 2 s).
        wait_for(lambda: answer(mine["thief"])[0] == ERROR, timeout=30, interval=0.5,
                 what="the grant to expire")
        self.assertIn("expired", refused("expired grant", mine["thief"]))


class MutualTlsTest(TrustTest):
    """With certificates from the cluster CA (bin/dfcert), the scheduler and the upload RPC speak
    TLS and require a client certificate; a caller acts only as the host its certificate names
    and within its role."""

    def setUp(self):
        self.c = Cluster(prefix="df-trust-tls-", tls=True)

    def test_only_certified_hosts_act_and_only_as_themselves(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("tls.bin", 6 * MIB))
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        peer = self.c.daemon("peer", sched)
        url = origin.url("tls.bin")
        out = os.path.join(self.c.dir, "tls.out")
        peer.dfget(url, out)  # announce, register, seed trigger, pieces: all over TLS
        self.assertEqual(sha256_file(out), want)
        self.assertEqual(peer.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "back_to_source"}), 0)
        for p in (sched, seed, peer):
            self.assertNotIn("plaintext gRPC without authentication", p.logs(), p.name)
        seed_rpc = hostport(int(seed.match.group(2)))
        task_id = hashlib.sha256((url + "STANDARD").encode()).hexdigest()

        def attack(cert_dir, *args):
            tls = ("--tls", cert_dir) if cert_dir else ()
            r = subprocess.run([os.path.join(TESTS_DIR, "rogue_peer"), *tls, *args],
                               capture_output=True, text=True, timeout=60)
            self.assertIn(r.returncode, (0, 3), r.stderr)
            return r.stdout.strip()

        # No certificate, or one from another CA: the TLS handshake fails.
        self.assertTrue(attack(None, "announce", sched.addr, "rogue").startswith("unreachable"))
        self.assertTrue(attack(None, "trigger", seed_rpc, task_id, url).startswith("unreachable"))
        other_ca = os.path.join(self.c.dir, "other-ca")
        self.c.dfcert("ca", "--out", other_ca)
        foreign = self.c.certificate("seed-peer", "rogue", ca=other_ca)
        self.assertTrue(attack(foreign, "announce", sched.addr, "rogue").startswith("unreachable"))
        # A daemon certificate of the cluster, for host "rogue": it announces itself ...
        rogue_cert = self.c.certificate("daemon", "rogue")
        self.assertTrue(attack(rogue_cert, "announce", sched.addr, "rogue").startswith("accepted"))
        # ... but not as a seed peer, nor as another host, nor makes another host leave.
        said = attack(rogue_cert, "announce", sched.addr, "rogue", "seed")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        said = attack(rogue_cert, "announce", sched.addr, "peer")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        said = attack(rogue_cert, "leave", sched.addr, f"{LOOPBACK}-peer")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        # Only a scheduler triggers a seed peer; a seed-peer certificate cannot either.
        said = attack(rogue_cert, "trigger", seed_rpc, task_id, url)
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        said = attack(self.c.certificate("seed-peer", "rogue"), "trigger", seed_rpc, task_id, url)
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        # The live swarm view (which hosts hold what) is the manager's: a daemon's or a seed
        # peer's certificate cannot read it; the manager's can.
        for role in ("daemon", "seed-peer"):
            cert = rogue_cert if role == "daemon" else self.c.certificate(role, "rogue")
            said = attack(cert, "inspect-task", sched.addr, task_id)
            self.assertTrue(said.startswith("refused PERMISSION_DENIED"), (role, said))
            said = attack(cert, "list-tasks", sched.addr)
            self.assertTrue(said.startswith("refused PERMISSION_DENIED"), (role, said))
        manager_cert = self.c.certificate("manager", "manager")
        said = attack(manager_cert, "inspect-task", sched.addr, task_id)
        self.assertTrue(said.startswith("accepted known=1 peers="), said)
        self.assertTrue(attack(manager_cert, "list-tasks", sched.addr).startswith("accepted"))
        # The victim is still known and served.
        out2 = os.path.join(self.c.dir, "tls2.out")
        peer.dfget(url + "?again=1", out2)
        self.assertEqual(sha256_file(out2), want)

    def attack(self, cert_dir, *args):
        tls = ("--tls", cert_dir) if cert_dir else ()
        r = subprocess.run([os.path.join(TESTS_DIR, "rogue_peer"), *tls, *args],
                           capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, (0, 3), r.stderr)
        return r.stdout.strip()

    def test_the_manager_registers_only_certified_components_as_themselves(self):
        m = self.c.manager()
        addr = m.grpc_addr
        said = self.attack(None, "keepalive", addr, "scheduler", "rogue")
        self.assertTrue(said.startswith("unreachable"), said)
        daemon = self.c.certificate("daemon", "rogue")
        said = self.attack(daemon, "keepalive", addr, "scheduler", "rogue")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        seed = self.c.certificate("seed-peer", "rogue")
        said = self.attack(seed, "keepalive", addr, "seed", "victim")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        said = self.attack(seed, "keepalive", addr, "seed", "rogue")  # as itself: the control
        self.assertTrue(said.startswith("accepted"), said)


class ExhaustionTest(TrustTest):
    """2000 idle connections, more than the process may open (its open-files limit is 1024),
    against the proxy, the piece port and /metrics of a dfdaemon and the manager's REST API:
    each keeps running, refuses what it cannot hold (busy), drops connections that send no
    request within the deadline, and serves a normal client afterwards."""

    FD_LIMIT = 1024

    def limited(self, proc):
        """Starts `proc` with an open-files limit of FD_LIMIT."""
        proc.argv = ["prlimit", f"--nofile={self.FD_LIMIT}:{self.FD_LIMIT}", "--", *proc.argv]
        return self.c.add(proc)

    def flood(self, port, n=2000):
        """n connections that never send a byte (non-blocking connects: those beyond the listen
        backlog wait in SYN retries rather than blocking the test)."""
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_INET6 if ":" in LOOPBACK else socket.AF_INET)
            s.setblocking(False)
            s.connect_ex((LOOPBACK, port))
            socks.append(s)
        return socks

    def test_idle_connections_beyond_the_fd_limit_do_not_take_components_down(self):
        import resource
        import urllib.request
        from cluster import Daemon, Manager
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < 4096:
            self.skipTest(f"this test holds 2000 sockets; the hard open-files limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("small.bin", 1 * MIB))
        d = self.limited(Daemon(self.c.dir, "d", None, False,
                                {"proxy": {"requestTimeout": "2s"},
                                 "upload": {"maxConnections": 256}}))
        m = self.limited(Manager(self.c.dir, extra={"server": {"requestTimeout": "2s"}}))

        def proxy_ok():
            proxy = urllib.request.ProxyHandler({"http": f"http://{hostport(d.proxy_port)}"})
            with urllib.request.build_opener(proxy).open(origin.url("small.bin"),
                                                         timeout=5) as r:
                return hashlib.sha256(r.read()).hexdigest() == want

        def piece_ok():  # the handshake is answered: no grant here, so "unauthorized"
            with connect(int(d.match.group(1)), timeout=5) as s:
                s.sendall(hello("a" * 64, "p", b""))
                kind, payload = read_frame(s)
                return kind == ERROR and decode_error(payload)[0] == UNAUTHORIZED

        def metrics_ok():
            with urllib.request.urlopen(f"http://{hostport(d.metrics_port)}/metrics",
                                        timeout=5) as r:
                return b"dragonfly_dfdaemon" in r.read()

        def rest_ok():
            with urllib.request.urlopen(f"http://{hostport(m.rest_port)}/healthy",
                                        timeout=5) as r:
                return r.read() == b"OK"

        def served(check):
            try:
                return check()
            except (OSError, ConnectionError):  # refused as busy, reset or timed out
                return False

        for name, port, check, proc in (("proxy", d.proxy_port, proxy_ok, d),
                                        ("piece port", int(d.match.group(1)), piece_ok, d),
                                        ("/metrics", d.metrics_port, metrics_ok, d),
                                        ("REST", m.rest_port, rest_ok, m)):
            socks = self.flood(port)
            try:
                # While the attacker holds them all, the idle ones are dropped at the deadline
                # and a normal client gets through.
                wait_for(lambda: served(check), timeout=120, interval=0.5,
                         what=f"a normal client served by the {name} under the flood")
                self.assertIsNone(proc.proc.poll(), f"{proc.name} died: {proc.logs()[-2000:]}")
            finally:
                for s in socks:
                    s.close()
            wait_for(lambda: served(check), timeout=60, interval=0.2,
                     what=f"a normal client served by the {name} after the flood")
        # The daemon still has descriptors for its store: a download lands.
        out = os.path.join(self.c.dir, "small.out")
        d.dfget(origin.url("small.bin"), out)
        self.assertEqual(sha256_file(out), want)
        self.assertIsNone(d.proc.poll())
        self.assertIsNone(m.proc.poll())


    def test_idle_connections_against_the_grpc_ports_drain(self):
        """gRPC cannot cap its connections, but a connection that does not finish its handshake
        within 10 s is closed: under 2000 idle connections the scheduler and the upload RPC
        stay up and serve a normal caller again."""
        import resource
        from cluster import Daemon, Scheduler
        if "ASAN_OPTIONS" in os.environ:
            # gRPC 1.51's own accept-failure path (after "Failed accept4: Too many open files")
            # trips UBSan inside libgrpc: docs/security.md, "Not yet".
            self.skipTest("runs on the gcc build: UBSan reports inside libgrpc under EMFILE")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < 4096:
            self.skipTest(f"this test holds 2000 sockets; the hard open-files limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        sched = self.limited(Scheduler(self.c.dir))
        d = self.limited(Daemon(self.c.dir, "d", sched.addr, False, None))
        rpc = hostport(int(d.match.group(2)))

        def answered(*args):  # any answer but "unreachable" (refused is an answer)
            try:
                return not rogue(*args).startswith("unreachable")
            except AssertionError:
                return False

        for name, port, call, proc in (
                ("scheduler", int(sched.addr.rsplit(":", 1)[1]),
                 ("announce", sched.addr, "caller"), sched),
                ("upload RPC", int(rpc.rsplit(":", 1)[1]),
                 ("trigger", rpc, "a" * 64, "http://127.0.0.1:9/x"), d)):
            socks = self.flood(port)
            try:
                wait_for(lambda: answered(*call), timeout=120, interval=0.5,
                         what=f"a caller served by the {name} under the flood")
                self.assertIsNone(proc.proc.poll(), f"{proc.name} died: {proc.logs()[-2000:]}")
            finally:
                for s in socks:
                    s.close()
            wait_for(lambda: answered(*call), timeout=60, interval=0.2,
                     what=f"a caller served by the {name} after the flood")


class SecretsInLogsTest(TrustTest):
    """Presigned-URL signatures and URL userinfo are credentials: no component writes them to
    its log, on the seed, the peer or the scheduler."""

    def test_signed_urls_and_userinfo_stay_out_of_logs(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("signed.bin", 2 * MIB))
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        peer = self.c.daemon("peer", sched)
        signed = (origin.url("signed.bin") + "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                  "&X-Amz-Credential=SECRETCRED%2F20261206&X-Amz-Signature=SECRETSIG0123")
        out = os.path.join(self.c.dir, "signed.out")
        peer.dfget(signed, out)
        self.assertEqual(sha256_file(out), want)
        userinfo = origin.url("signed.bin").replace("://", "://alice:SECRETPW@")
        peer.dfget(userinfo, out + "2", "--tag", "with-userinfo")
        for proc in (seed, peer, sched):
            logs = proc.logs()
            for secret in ("SECRETCRED", "SECRETSIG0123", "SECRETPW"):
                self.assertNotIn(secret, logs, f"{proc.name} logged {secret}")
        self.assertIn("X-Amz-Signature=***", peer.logs())


class PrivateBlobTest(TrustTest):
    """A blob this host cached from a private registry is keyed by its digest; a client naming
    another registry (one it controls, which will happily answer for that digest) must not get
    the cached bytes: they are served only to clients of the registry they came from."""

    def registries(self, size):
        """A private registry (token "s3cret" under /v2/private/) holding a random blob of
        `size` bytes and the attacker's registry answering for the same digest with other
        bytes; (private, evil, data, digest, blob path, proxy section fronting private)."""
        from cluster import Origin
        private = self.c.origin(extra_args=["--auth-prefix", "/v2/private/",
                                            "--auth-token", "s3cret"])
        evil_root = os.path.join(self.c.dir, "evil-root")
        os.makedirs(evil_root)
        evil = self.c.add(Origin(self.c.dir, evil_root, name="evil"))
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        path = f"/v2/private/app/blobs/sha256:{digest}"
        for root, body in ((self.c.origin_root, data), (evil_root, b"the attacker's bytes")):
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            with open(root + path, "wb") as f:
                f.write(body)
        proxy = {"listen": "127.0.0.1:0",
                 "registryMirror": {"nsScheme": "http", "addr": private.url("").rstrip("/")}}
        return private, evil, data, digest, path, proxy

    def test_a_cached_private_blob_is_not_served_to_other_registries_clients(self):
        private, evil, data, digest, path, proxy = self.registries(2 * MIB + 3)
        d = self.c.daemon("d", extra={"proxy": proxy})
        # The owner pulls it: cached on this host.
        st, _, body = request(d.proxy_port, "GET", f"{path}?ns=127.0.0.1:{private.port}",
                              [("Authorization", "Bearer s3cret")])
        self.assertEqual((st, body), (200, data))
        # Without credentials the private registry refuses, as before.
        st, _, body = request(d.proxy_port, "GET", f"{path}?ns=127.0.0.1:{private.port}")
        self.assertEqual(st, 401)
        # The attacker names its own registry, by header or by ns=: never the private bytes.
        evil_base = evil.url("").rstrip("/")
        for target, headers in ((path, [("X-Dragonfly-Registry", evil_base)]),
                                (f"{path}?ns=127.0.0.1:{evil.port}", [])):
            st, _, body = request(d.proxy_port, "GET", target, headers)
            self.assertNotIn(data[:4096], body, target)
            self.assertEqual(body, b"the attacker's bytes", target)

    def test_the_swarm_does_not_serve_a_private_blob_to_other_registries_clients(self):
        """The same when this host does not hold the blob but the swarm does: the scheduler
        knows the source the task is bound to, and the mirror asks that registry."""
        private, evil, data, digest, path, proxy = self.registries(3 * MIB + 7)
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True, extra={"proxy": proxy})
        owner = self.c.daemon("owner", sched, extra={"proxy": proxy})
        other = self.c.daemon("other", sched, extra={"proxy": proxy})
        ns = f"ns=127.0.0.1:{private.port}"
        st, _, body = request(owner.proxy_port, "GET", f"{path}?{ns}",
                              [("Authorization", "Bearer s3cret")])
        self.assertEqual((st, body), (200, data))
        # On the other host, which does not hold it: a client naming the attacker's registry
        # gets the attacker's bytes, relayed, and nothing is cached under the digest.
        evil_base = evil.url("").rstrip("/")
        for target, headers in ((path, [("X-Dragonfly-Registry", evil_base)]),
                                (f"{path}?ns=127.0.0.1:{evil.port}", [])):
            st, _, body = request(other.proxy_port, "GET", target, headers)
            self.assertNotIn(data[:4096], body, target)
            self.assertEqual(body, b"the attacker's bytes", target)
        self.assertNotIn(digest, other.dfctl("list"))
        self.assertIn("relaying", other.logs())
        # Without credentials the private registry refuses; with them, the swarm serves it.
        st, _, _ = request(other.proxy_port, "GET", f"{path}?{ns}")
        self.assertEqual(st, 401)
        st, _, body = request(other.proxy_port, "GET", f"{path}?{ns}",
                              [("Authorization", "Bearer s3cret")])
        self.assertEqual((st, body), (200, data))
        self.assertEqual(other.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0)


class RelayBypassTest(TrustTest):
    """A proxy that listens beyond loopback relays only to the mirror's registry, proxy rules'
    matches and allowHosts. Those checks run on the URL as libcurl will fetch it, so a fragment,
    dot-segments or a look-alike authority cannot smuggle another destination past them."""

    def test_allow_list_sees_the_url_as_fetched(self):
        registry = self.c.origin()
        other = self.c.origin(name="other")  # a host nobody allowed
        data = os.urandom(1 * MIB)
        digest = hashlib.sha256(data).hexdigest()
        d = os.path.join(self.c.origin_root, "v2", "lib", "app", "blobs")
        os.makedirs(d)
        with open(os.path.join(d, "sha256:" + digest), "wb") as f:
            f.write(data)
        with open(os.path.join(self.c.origin_root, "secret.bin"), "wb") as f:
            f.write(b"internal only")
        proxy = {"listen": "0.0.0.0:0",
                 "registryMirror": {"nsScheme": "http", "addr": registry.url("").rstrip("/")},
                 "rules": [{"regex": "blobs/sha256.*"}]}
        daemon = self.c.daemon("d", extra={"proxy": proxy})
        port = daemon.proxy_port
        blob = f"/v2/lib/app/blobs/sha256:{digest}"
        # The registry the mirror fronts is reachable (mirror and proxy form).
        st, _, body = request(port, "GET", blob)
        self.assertEqual((st, body), (200, data))
        self.assertEqual(request(port, "GET", registry.url(blob[1:]))[0], 200)
        other_base = other.url("").rstrip("/")
        for target in (
                other_base + "/#" + blob,                                   # fragment
                other_base + blob + "/../../../../../secret.bin",          # dot-segments
                other_base + "/x/%2E%2E/.." + blob + "/../../../../../../secret.bin",
                "http://127.0.0.1/secret.bin",                              # port left out
                registry.url("").rstrip("/")[:-1] + "/secret.bin",         # port prefix
                "http://127.0.0.1:" + str(registry.port) + "@127.0.0.1:1/secret.bin"):
            st, _, body = request(port, "GET", target)
            self.assertIn(st, (400, 403), f"{target}: {st} {body[:200]}")
        self.assertEqual(other.stats()["requests"], {})
        self.assertNotIn("/secret.bin", registry.stats()["requests"])


if __name__ == "__main__":
    unittest.main()
