"""An IPv6-only cluster (issue #9, "Done when" 2): run by test/e2e/isolate.py --ipv6-only, in a
network namespace whose loopback has ::1 and no 127.0.0.1, with Debian's stock /etc/hosts.
Manager (embedded SQLite), scheduler, a seed peer, two peers, a TLS registry and containerd all
listen on [::1]: a P2P download gets its bytes from peers, containerd pulls through the mirror
at http://[::1]:PORT (hosts.toml written by dfinit), and a preheat job fills the seed peer."""

import os
import shutil
import socket
import subprocess
import unittest

import registry as R
from cluster import BIN, LOOPBACK, hostport, sha256_file, wait_for

MIB = 1 << 20
ISOLATION = os.environ.get("DF_E2E_ISOLATION", "")
NEEDED = [R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, "runc", "openssl"]
MISSING = [p for p in NEEDED if not shutil.which(p)]


@unittest.skipUnless(ISOLATION == "ipv6-only",
                     "run through test/e2e/isolate.py --ipv6-only "
                     f"({os.environ.get('DF_E2E_ISOLATION_WHY', 'not isolated')})")
class IPv6OnlyClusterTest(R.ClusterWithRegistryTest):
    PREFIX = "df-ipv6-"

    @classmethod
    def start_processes(cls):
        assert LOOPBACK == "::1", LOOPBACK
        cls.m = cls.c.manager()
        cls.root = cls.m.signin()
        cls.sched = cls.c.scheduler(f"manager:\n  addr: '{cls.m.grpc_addr}'\n"
                                    "  keepAliveInterval: 1s\n")
        manager = {"addrs": [cls.m.grpc_addr], "keepAliveInterval": "1s",
                   "refreshInterval": "1s"}
        cls.registry = None
        proxy = {}
        if not MISSING:
            cls.registry = cls.env.registry(tls=cls.env.tls(), host_name="localhost")
            proxy = {"proxy": {"registryMirror": {"addr": cls.registry.url},
                               "registries": [{"host": cls.registry.host,
                                               "caCert": cls.registry.ca}]}}
        cls.seed = cls.c.daemon("seed", cls.sched, seed=True,
                                extra={"manager": manager, **proxy})
        cls.peers = [cls.c.daemon(f"peer-{i}", cls.sched, extra={"manager": manager, **proxy})
                     for i in range(2)]
        wait_for(lambda: cls.components("schedulers") == 1 and
                 cls.components("seed-peers") == 1, timeout=30,
                 what="scheduler and seed peer registered with the manager")

    @classmethod
    def components(cls, kind):
        st, body, _ = cls.m.request("GET", f"/api/v1/{kind}?state=active", token=cls.root)
        assert st == 200, body
        return len(body)

    def out(self, name):
        d = os.path.join(self.c.dir, "out")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def test_0_no_ipv4_here(self):
        with socket.socket(socket.AF_INET) as s, self.assertRaises(OSError):
            s.bind(("127.0.0.1", 0))
        st, body, _ = self.m.request("GET", "/api/v1/seed-peers?state=active", token=self.root)
        self.assertEqual([s["ip"] for s in body], ["::1"])

    def test_p2p_download_gets_bytes_from_peers(self):
        origin = self.c.origin()
        size = 16 * MIB
        want = sha256_file(self.c.make_file("v6.bin", size))
        url = origin.url("v6.bin")
        self.assertTrue(url.startswith("http://[::1]:"), url)
        def got(p, source):
            return p.metric("dragonfly_dfdaemon_download_bytes_total", {"source": source})

        for i, p in enumerate(self.peers):
            before = {s: got(p, s) for s in ("remote_peer", "back_to_source")}
            p.dfget(url, self.out(f"v6-{i}.bin"))
            self.assertEqual(sha256_file(self.out(f"v6-{i}.bin")), want)
            self.assertEqual(got(p, "remote_peer") - before["remote_peer"], size)
            self.assertEqual(got(p, "back_to_source") - before["back_to_source"], 0)
        self.assertLessEqual(origin.stats()["total_bytes"], 1.05 * size)

    @unittest.skipIf(MISSING, f"missing programs: {MISSING}")
    def test_containerd_pull_through_mirror(self):
        image = R.push_image(self.registry, "dfly/v6", "v1", layers=(1 * MIB, 6 * MIB), seed=606)
        peer = self.peers[0]
        mirror = f"http://{hostport(peer.proxy_port)}"
        self.assertTrue(mirror.startswith("http://[::1]:"), mirror)
        hosts = self.env.path("certs-v6")
        r = subprocess.run([os.path.join(BIN, "dfinit"), "containerd", "--certs-dir", hosts,
                            "--mirror", mirror,
                            "--registry", f"{self.registry.host}={self.registry.url}",
                            "--ca", f"{self.registry.host}={self.registry.ca}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(hosts, self.registry.host, "hosts.toml")) as f:
            self.assertIn(f'"{mirror}" = {{ capabilities', f.read())
        ctd = self.env.containerd("containerd-v6")
        before = peer.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"})
        r = ctd.pull(image["ref"], hosts)
        self.assertEqual(r.returncode, 0, f"pull failed: {r.stderr}")
        ctd.verify(image)
        self.assertGreaterEqual(
            peer.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}) - before,
            len(image["blobs"]), peer.logs()[-3000:])
        for d in image["blobs"]:
            self.assertEqual(self.registry.blob_gets(d, status=(200, 206)), 1, d)

    def test_preheat_job_fills_the_seed_peer(self):
        origin = self.c.origin(name="preheat-origin")
        size = 5 * MIB
        want = sha256_file(self.c.make_file("pre.bin", size))
        url = origin.url("pre.bin")
        st, job, _ = self.m.request("POST", "/api/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": url, "scope": "all_seed_peers"}},
            token=self.root)
        self.assertEqual(st, 200, job)
        job = self.m.wait_job(job["id"], self.root, prefix="/api/v1/jobs")
        self.assertEqual(job["state"], "SUCCESS", job)
        results = job["result"]["job_states"][0]["results"][0]
        self.assertEqual([t["hostname"] for t in results["success_tasks"]], ["seed"])
        self.assertEqual(origin.stats()["total_bytes"], size)
        # A peer's download now comes from the seed, not the origin.
        peer = self.peers[1]
        peer.dfget(url, self.out("pre.bin"))
        self.assertEqual(sha256_file(self.out("pre.bin")), want)
        self.assertEqual(origin.stats()["total_bytes"], size)


if __name__ == "__main__":
    unittest.main()
