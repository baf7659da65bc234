"""The traces of a real containerd pull through the registry mirror (issue #14), on a 3-host
loopback cluster (a seed peer, host-a, host-b) with docker-registry over TLS with bearer tokens:
each blob is one trace whose root span carries the blob's http.url as the mirror saw it, with the
daemon's download, the scheduler's decision, the seed peer's download and its back-to-source fetch
under the same trace ID; pulled again on host-a (after `ctr images rm`), each blob is served from
the local cache; pulled on host-b, each blob comes from peers, not from the registry."""

import os
import shutil
import subprocess
import time
import unittest

import registry as R
from cluster import BIN, wait_for
from test_tracing import Sink

MIB = 1 << 20
NEEDED = [R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, "runc", "openssl"]
MISSING = [p for p in NEEDED if not shutil.which(p)]


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh)")
@unittest.skipIf(os.geteuid() != 0, "containerd needs root")
class ContainerdTraceTest(R.ClusterWithRegistryTest):
    PREFIX = "df-containerd-trace-"

    @classmethod
    def start_processes(cls):
        cls.sink = Sink(cls.c.dir)
        cls.tls = cls.env.tls()
        cls.tok = cls.env.token_server(users={"alice": "secret"})
        cls.reg = cls.env.registry(tls=cls.tls, token_server=cls.tok)
        sched = cls.c.scheduler(f"tracing:\n  endpoint: '{cls.sink.grpc}'\n")
        proxy = {"listen": "127.0.0.1:0", "registryMirror": {"addr": cls.reg.url},
                 "registries": [{"host": cls.reg.host, "caCert": cls.reg.ca}]}
        tracing = {"endpoint": cls.sink.grpc}
        cls.seed = cls.c.daemon("seed", sched, seed=True, extra={"proxy": proxy,
                                                                 "tracing": tracing})
        cls.a = cls.c.daemon("host-a", sched, extra={"proxy": proxy, "tracing": tracing})
        cls.b = cls.c.daemon("host-b", sched, extra={"proxy": proxy, "tracing": tracing})
        cls.ctd_a = cls.env.containerd("containerd-a")
        cls.ctd_b = cls.env.containerd("containerd-b")

    @classmethod
    def tearDownClass(cls):
        cls.sink.stop()
        super().tearDownClass()

    def hosts_dir(self, name, daemon):
        d = self.env.path(name)
        r = subprocess.run([os.path.join(BIN, "dfinit"), "containerd", "--certs-dir", d,
                            "--mirror", f"http://127.0.0.1:{daemon.proxy_port}",
                            "--registry", f"{self.reg.host}={self.reg.url}",
                            "--ca", f"{self.reg.host}={self.reg.ca}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return d

    def pull(self, ctd, image, hosts):
        started = time.monotonic()
        r = ctd.pull(image["ref"], hosts)
        wall_ns = (time.monotonic() - started) * 1e9
        self.assertEqual(r.returncode, 0, f"pull failed: {r.stderr}")
        ctd.verify(image)
        return wall_ns

    def traces(self, digest, after_ns, want):
        """{trace ID: spans} of the mirror requests for `digest` whose root started after
        `after_ns` (unix ns), once `want(spans)` holds for each."""
        result = {}

        def complete():
            spans = self.sink.snapshot()
            roots = [s for s in spans if s["name"] == "dfdaemon.proxy" and s["parent"] == ""
                     and f"/blobs/{digest}" in s["attributes"].get("http.url", "")
                     and s["start"] >= after_ns]
            if not roots:
                return False
            by_trace = {r["trace_id"]: [s for s in spans if s["trace_id"] == r["trace_id"]]
                        for r in roots}
            if not all(want(t) for t in by_trace.values()):
                return False
            result.update(by_trace)
            return True

        wait_for(complete, timeout=30, interval=0.2, what=f"the traces of {digest}")
        return result

    def test_each_blob_of_a_containerd_pull_is_one_trace(self):
        image = R.push_image(self.reg, "dfly/traced", "v1", layers=(1 * MIB, 24 * MIB), seed=7)
        blobs = image["blobs"]
        self.assertGreaterEqual(len(blobs), 3)  # the config and two layers

        def names(spans):
            return {(s["service"], s["name"]) for s in spans}

        # 1. host-a's first pull: every blob from the registry through the seed peer.
        t0 = time.time_ns()
        wall = self.pull(self.ctd_a, image, self.hosts_dir("certs-a", self.a))
        first = {"dfdaemon.download", "scheduler.RegisterPeer", "dfdaemon.seed",
                 "dfdaemon.back_to_source"}
        for d in blobs:
            traces = self.traces(d, t0, lambda t: first <= {s["name"] for s in t})
            self.assertEqual(len(traces), 1, f"{d}: one trace per blob, got {len(traces)}")
            (trace_id, spans), = traces.items()
            root = next(s for s in spans if s["parent"] == "")
            self.assertEqual(root["service"], "dfdaemon")
            self.assertIn(f"/v2/dfly/traced/blobs/{d}", root["attributes"]["http.url"])
            self.assertEqual(root["attributes"]["http.status_code"], 200)
            self.assertTrue({("dfdaemon", "dfdaemon.download"),
                             ("scheduler", "scheduler.RegisterPeer"),
                             ("seed-peer", "dfdaemon.seed"),
                             ("seed-peer", "dfdaemon.back_to_source")} <= names(spans),
                            names(spans))
            self.assertTrue(all(s["trace_id"] == trace_id for s in spans))
            # Every span lies within the pull, and the root within containerd's wall time.
            self.assertLessEqual(root["end"] - root["start"], wall)
            for s in spans:
                self.assertGreaterEqual(s["start"], t0)
                self.assertLessEqual(s["end"] - s["start"], root["end"] - root["start"] + 50e6)
            download = next(s for s in spans if s["name"] == "dfdaemon.download")
            self.assertIn(download["attributes"]["dragonfly.source"], ("seed_peer", "remote_peer"))

        # 2. host-a again, the image removed from containerd: each blob from the local cache.
        self.assertEqual(self.ctd_a.rm(image["ref"]).returncode, 0)
        t1 = time.time_ns()
        self.pull(self.ctd_a, image, self.env.path("certs-a"))
        for d in blobs:
            traces = self.traces(d, t1, lambda t: True)
            for spans in traces.values():
                self.assertEqual([s["name"] for s in spans], ["dfdaemon.proxy"])
                self.assertEqual(spans[0]["attributes"]["dragonfly.source"], "local_cache")

        # 3. host-b: each blob from the peers (the seed peer and host-a), none from the origin.
        t2 = time.time_ns()
        self.pull(self.ctd_b, image, self.hosts_dir("certs-b", self.b))
        for d in blobs:
            traces = self.traces(d, t2, lambda t: any(s["name"] == "dfdaemon.download"
                                                      for s in t))
            for spans in traces.values():
                download = next(s for s in spans if s["name"] == "dfdaemon.download")
                self.assertIn(download["attributes"]["dragonfly.source"],
                              ("remote_peer", "seed_peer"))
                self.assertEqual(download["attributes"]["dragonfly.bytes.back_to_source"], 0)
                self.assertFalse(any(s["name"] == "dfdaemon.back_to_source" for s in spans))
        for d in blobs:
            self.assertEqual(self.reg.blob_gets(d, status=(200, 206)), 1,
                             f"blob {d} fetched {self.reg.blob_gets(d)} times from the registry")


if __name__ == "__main__":
    unittest.main()
