"""Real-program tests of the registry mirror (issue #4): docker-registry over TLS with bearer
tokens, containerd pulling through dfdaemons with hosts.toml written by dfinit, skopeo through a
registries.conf mirror. Each test asserts on the registry's access log and on the daemons'
metrics, because containerd silently falls back to the registry when a mirror fails."""

import os
import shutil
import signal
import subprocess
import unittest

import registry as R
from cluster import BIN, wait_for

MIB = 1 << 20
NEEDED = [R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, R.SKOPEO_BIN, "runc", "openssl"]
MISSING = [p for p in NEEDED if not shutil.which(p)]
BIG = int(os.environ.get("DF_E2E_LAYER_MB", "64")) * MIB


def p2p_requests(daemon):
    return daemon.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"})


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh)")
@unittest.skipIf(os.geteuid() != 0, "containerd needs root")
class ContainerdMirrorTest(R.ClusterWithRegistryTest):
    PREFIX = "df-containerd-e2e-"

    @classmethod
    def start_processes(cls):
        cls.tls = cls.env.tls()
        cls.tok = cls.env.token_server(users={"alice": "secret"})
        cls.reg = cls.env.registry(tls=cls.tls, token_server=cls.tok)
        sched = cls.c.scheduler()
        proxy = {"listen": "127.0.0.1:0",
                 "registryMirror": {"addr": cls.reg.url},
                 "registries": [{"host": cls.reg.host, "caCert": cls.reg.ca}]}
        cls.seed = cls.c.daemon("seed", sched, seed=True, extra={"proxy": proxy})
        cls.a = cls.c.daemon("host-a", sched, extra={"proxy": proxy})
        cls.b = cls.c.daemon("host-b", sched, extra={"proxy": proxy})
        cls.ctd_a = cls.env.containerd("containerd-a")
        cls.ctd_b = cls.env.containerd("containerd-b")

    def dfinit(self, certs_dir, daemon, *extra):
        argv = [os.path.join(BIN, "dfinit"), "containerd", "--certs-dir", certs_dir,
                "--mirror", f"http://127.0.0.1:{daemon.proxy_port}",
                "--registry", f"{self.reg.host}={self.reg.url}",
                "--ca", f"{self.reg.host}={self.reg.ca}", *extra]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_pulled(self, ctd, image, r):
        self.assertEqual(r.returncode, 0, f"pull failed: {r.stderr}")
        ctd.verify(image)

    def assert_each_blob_fetched_once(self, image):
        for d in image["blobs"]:
            self.assertEqual(self.reg.blob_gets(d, status=(200, 206)), 1,
                             f"blob {d} fetched {self.reg.blob_gets(d)} times from the registry")

    def test_1_pull_on_two_hosts_fetches_each_blob_once(self):
        image = R.push_image(self.reg, "dfly/app", "v1", layers=(1 * MIB, BIG, 4 * MIB),
                             seed=101, index=True)
        hosts_a = self.env.path("certs-a")
        out = self.dfinit(hosts_a, self.a)
        self.assertIn(f"created {hosts_a}/{self.reg.host}/hosts.toml", out)
        before = p2p_requests(self.a)
        self.assert_pulled(self.ctd_a, image, self.ctd_a.pull(image["ref"], hosts_a))
        self.assertGreaterEqual(p2p_requests(self.a) - before, len(image["blobs"]))
        hosts_b = self.env.path("certs-b")
        self.dfinit(hosts_b, self.b)
        before_b = p2p_requests(self.b)
        self.assert_pulled(self.ctd_b, image, self.ctd_b.pull(image["ref"], hosts_b))
        self.assertGreaterEqual(p2p_requests(self.b) - before_b, len(image["blobs"]))
        self.assert_each_blob_fetched_once(image)
        # Host B got the layers from the P2P network, not from the registry.
        self.assertGreaterEqual(
            self.b.metric("dragonfly_dfdaemon_download_bytes_total", {"source": "remote_peer"}),
            BIG)
        self.assertEqual(self.b.metric("dragonfly_dfdaemon_download_bytes_total",
                                       {"source": "back_to_source"}), 0)

    def test_2_default_catch_all_routes_by_ns(self):
        image = R.push_image(self.reg, "dfly/catchall", "v1", layers=(2 * MIB, 3 * MIB), seed=202)
        hosts = self.env.path("certs-default")
        # Only the catch-all: no X-Dragonfly-Registry header, the mirror routes by ?ns=.
        R.write_hosts_toml(hosts, "_default", mirrors=[f"http://127.0.0.1:{self.a.proxy_port}"])
        before = p2p_requests(self.a)
        self.assert_pulled(self.ctd_a, image, self.ctd_a.pull(image["ref"], hosts))
        self.assertGreaterEqual(p2p_requests(self.a) - before, len(image["blobs"]))
        self.assert_each_blob_fetched_once(image)

    def test_3_skopeo_through_registries_conf_mirror(self):
        image = R.push_image(self.reg, "dfly/skopeo", "v1", layers=(2 * MIB,), seed=303)
        conf = self.env.path("registries.conf")
        R.write_registries_conf(conf, self.reg.host,
                                mirrors=[{"location": f"127.0.0.1:{self.a.proxy_port}",
                                          "insecure": True}])
        before = p2p_requests(self.a)
        passthrough = self.a.metric("dragonfly_dfdaemon_proxy_requests_total",
                                    {"kind": "passthrough"})
        out = self.env.path("skopeo-out")
        r = R.skopeo_copy(image["ref"], out, registries_conf=conf, cert_dir=self.reg.ca_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        blobs = R.oci_layout_blobs(out)
        for d in image["layer_digests"]:
            self.assertIn(d, blobs)
        self.assertGreaterEqual(p2p_requests(self.a) - before, len(image["layer_digests"]))
        # The manifest went through the mirror too: repeated Accept lines were kept.
        self.assertGreater(self.a.metric("dragonfly_dfdaemon_proxy_requests_total",
                                         {"kind": "passthrough"}), passthrough)

    def test_4_interrupted_pull_resumes_with_open_ended_range(self):
        # 48 MiB from a seed serving 8 MiB/s: ~6 s, interrupted after ~1 s.
        image = R.push_image(self.reg, "dfly/resume", "v1", layers=(48 * MIB,), seed=404)
        # A slow seed makes the transfer long enough to interrupt.
        hosts = self.env.path("certs-resume")
        self.dfinit(hosts, self.a)
        self.c.procs.remove(self.seed)
        self.seed.kill(signal.SIGTERM)
        cfg_slow = dict(self.seed_extra())
        cfg_slow["upload"] = {"rateLimit": "8MiB"}
        seed = self.c.daemon("seed-slow", self.sched_addr(), seed=True, extra=cfg_slow)
        try:
            sent = self.a.metric("dragonfly_dfdaemon_proxy_p2p_bytes_total")
            # ctr's progress output must not fill a pipe nobody reads: it would stop reading
            # the body.
            first = subprocess.Popen([R.CTR_BIN, "-a", self.ctd_a.socket, "-n", "dfly", "images",
                                      "pull", "--hosts-dir", hosts, image["ref"]],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: self.a.metric("dragonfly_dfdaemon_proxy_p2p_bytes_total") >
                     sent + 8 * MIB, timeout=120, what="part of the layer sent")
            first.kill()
            first.wait()
            wait_for(lambda: "proxy client went away" in self.a.logs(), timeout=60,
                     what="the mirror to see the client go")
            r = self.ctd_a.pull(image["ref"], hosts)
            self.assert_pulled(self.ctd_a, image, r)
            self.assertRegex(self.a.logs(), r"proxy served .*status=206 start=[1-9]\d*")
            self.assert_each_blob_fetched_once(image)
        finally:
            seed.kill(signal.SIGTERM)
            self.c.procs.remove(seed)
            self.seed = self.c.daemon("seed", self.sched_addr(), seed=True,
                                      extra=self.seed_extra())

    def test_5_private_blob_needs_credentials_even_when_cached(self):
        image = R.push_image(self.reg, "private/app", "v1", layers=(2 * MIB,), seed=505)
        hosts = self.env.path("certs-private")
        self.dfinit(hosts, self.a)
        self.assert_pulled(self.ctd_a, image,
                           self.ctd_a.pull(image["ref"], hosts, user="alice:secret"))
        layer = image["layer_digests"][0]
        url = (f"http://127.0.0.1:{self.a.proxy_port}/v2/private/app/blobs/{layer}"
               f"?ns={self.reg.host}")
        st, hdr, body = R.http_request("GET", url)
        self.assertEqual(st, 401)
        self.assertIn("Bearer", hdr.get("WWW-Authenticate", ""))
        self.assertLess(len(body), 4096)
        # And an anonymous containerd pull of it fails.
        self.ctd_b.rm(image["ref"])
        r = self.ctd_b.pull(image["ref"], hosts)
        self.assertNotEqual(r.returncode, 0)

    def test_6_repushed_tag_is_seen_at_once(self):
        first = R.push_image(self.reg, "dfly/moving", "latest", layers=(1 * MIB,), seed=601)
        hosts = self.env.path("certs-moving")
        self.dfinit(hosts, self.a)
        self.assert_pulled(self.ctd_a, first, self.ctd_a.pull(first["ref"], hosts))
        second = R.push_image(self.reg, "dfly/moving", "latest", layers=(1 * MIB,), seed=602)
        self.assertNotEqual(first["top_digest"], second["top_digest"])
        self.assert_pulled(self.ctd_a, second, self.ctd_a.pull(second["ref"], hosts))
        r = self.ctd_a.ctr("images", "ls", timeout=60, check=True)
        line = [l for l in r.stdout.splitlines() if l.startswith(second["ref"])][0]
        self.assertIn(second["top_digest"], line)

    def test_7_daemon_stopped_pull_falls_back_to_the_registry(self):
        image = R.push_image(self.reg, "dfly/fallback", "v1", layers=(2 * MIB,), seed=707)
        hosts = self.env.path("certs-fallback")
        self.dfinit(hosts, self.b)
        self.b.kill(signal.SIGTERM)
        try:
            self.assert_pulled(self.ctd_b, image, self.ctd_b.pull(image["ref"], hosts))
        finally:
            self.b.start()

    # --- helpers ------------------------------------------------------------------------
    def sched_addr(self):
        return [p for p in self.c.procs if p.name == "scheduler"][0].addr

    def seed_extra(self):
        return {"proxy": {"listen": "127.0.0.1:0", "registryMirror": {"addr": self.reg.url},
                          "registries": [{"host": self.reg.host, "caCert": self.reg.ca}]}}


if __name__ == "__main__":
    unittest.main()
