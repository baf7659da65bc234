"""Traces of a blob pull through the registry mirror (issue #14), exported over OTLP/gRPC and
OTLP/HTTP to an OTLP sink in the test suite (build/tests/otlp_sink, which decodes both): the first
pull on a host is one trace from the mirror's request (its http.url the blob's path, as operators
search for it) through the daemon's download, the scheduler's decision and the seed peer's
download down to the back-to-source fetch; a second pull on that host is served from its local
cache; a pull on another host comes from peers, not from the origin."""

import json
import os
import subprocess
import threading
import time
import unittest

from cluster import BIN, TESTS, Cluster, wait_for
from test_mirror import request

MIB = 1024 * 1024


class Sink:
    """build/tests/otlp_sink, its spans collected as they are printed."""

    def __init__(self, workdir, blackhole=False):
        self.proc = subprocess.Popen([os.path.join(TESTS, "otlp_sink")]
                                     + (["--blackhole"] if blackhole else []),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = self.proc.stdout.readline().split()
        ports = dict(p.split("=") for p in first[2:])
        self.grpc = f"127.0.0.1:{ports['grpc']}"
        self.http = f"http://127.0.0.1:{ports['http']}"
        self.spans = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("span "):
                with self.lock:
                    self.spans.append(json.loads(line[5:]))

    def snapshot(self):
        with self.lock:
            return list(self.spans)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class TracingTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-tracing-")
        self.sink = Sink(self.c.dir)

    def tearDown(self):
        self.sink.stop()
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def trace_of(self, url):
        """The spans of the trace whose dfdaemon.proxy root span has http.url == url (the latest
        such trace), once its root span has arrived."""
        roots = [s for s in self.sink.snapshot()
                 if s["name"] == "dfdaemon.proxy" and s["attributes"].get("http.url") == url]
        if not roots:
            return None
        root = roots[-1]
        return root, [s for s in self.sink.snapshot() if s["trace_id"] == root["trace_id"]]

    def test_a_blob_pull_is_one_trace_across_daemon_scheduler_seed_and_origin(self):
        origin = self.c.origin()
        sched = self.c.scheduler(f"tracing:\n  endpoint: '{self.sink.grpc}'\n")
        mirror = {"listen": "127.0.0.1:0", "registryMirror": {
            "nsScheme": "http", "addr": f"http://127.0.0.1:{origin.port}"}}
        grpc_tracing = {"endpoint": self.sink.grpc, "protocol": "grpc"}
        http_tracing = {"endpoint": self.sink.http, "protocol": "http"}
        self.c.daemon("seed-0", sched, seed=True,
                      extra={"proxy": mirror, "tracing": grpc_tracing})
        a = self.c.daemon("host-a", sched, extra={"proxy": mirror, "tracing": grpc_tracing})
        b = self.c.daemon("host-b", sched, extra={"proxy": mirror, "tracing": http_tracing,
                                                  "log": {"format": "json"}})
        digest, data = self.c.add_blob("lib/app", 12 * MIB)
        path = f"/v2/lib/app/blobs/sha256:{digest}?ns=127.0.0.1:{origin.port}"

        # 1. The first pull on host-a: through the swarm's seed peer, from the origin.
        started = time.monotonic()
        st, _, body = request(a.proxy_port, "GET", path)
        wall_ns = (time.monotonic() - started) * 1e9
        self.assertEqual((st, body == data), (200, True))

        def bytes_of(spans, name):
            return sum(s["attributes"]["dragonfly.bytes"] for s in spans if s["name"] == name)

        def whole_trace():
            # Spans reach the collector in batches: wait for all of them, the piece spans
            # of every neighbour included.
            t = self.trace_of(path)
            names = {s["name"] for s in t[1]} if t else set()
            return t if {"dfdaemon.download", "scheduler.RegisterPeer", "dfdaemon.seed",
                         "dfdaemon.back_to_source"} <= names and \
                bytes_of(t[1], "dfdaemon.pieces") == len(data) and \
                bytes_of(t[1], "dfdaemon.serve_pieces") == len(data) else None

        wait_for(whole_trace, timeout=30, what="the first pull's whole trace")
        root, spans = whole_trace()

        def one(name, service):
            found = [s for s in spans if s["name"] == name and s["service"] == service]
            self.assertTrue(found, f"{name} from {service} in {sorted((s['service'], s['name']) for s in spans)}")
            return found[0]

        download = one("dfdaemon.download", "dfdaemon")
        seed = one("dfdaemon.seed", "seed-peer")
        # The download's registrations (the seed registers too, under its own span).
        registers = [s for s in spans if s["name"] == "scheduler.RegisterPeer"
                     and s["parent"] == download["span_id"]]
        self.assertTrue(registers, "the download's RegisterPeer spans")
        b2s = one("dfdaemon.back_to_source", "seed-peer")
        self.assertEqual(root["service"], "dfdaemon")
        self.assertEqual(root["parent"], "")  # the root
        self.assertEqual(root["attributes"]["http.status_code"], 200)
        self.assertEqual(root["attributes"]["dragonfly.bytes"], len(data))
        self.assertEqual((b2s["attributes"]["http.status_code"],
                          b2s["attributes"]["dragonfly.retries"]), (200, 0))
        self.assertEqual(download["parent"], root["span_id"])
        # The seed peer was triggered by one of those decisions.
        self.assertIn(seed["parent"], {r["span_id"] for r in registers})
        self.assertEqual(b2s["parent"], seed["span_id"])
        self.assertEqual(download["attributes"]["dragonfly.task_id"], digest)
        self.assertEqual(seed["attributes"]["dragonfly.bytes.back_to_source"], len(data))
        self.assertEqual(download["attributes"]["dragonfly.bytes.remote_peer"], len(data))
        self.assertIn(download["attributes"]["dragonfly.source"], ("seed_peer", "remote_peer"))
        # Durations agree with the wall time the client measured, and nest.
        self.assertLessEqual(root["end"] - root["start"], wall_ns + 50e6)
        self.assertGreater(root["end"] - root["start"], 0)
        for child in (download, seed, b2s):
            self.assertLessEqual(child["start"] - child["end"], 0)
        self.assertLessEqual(b2s["end"] - b2s["start"], seed["end"] - seed["start"])
        # The scheduler says how many of the task's peers it looked at.
        self.assertTrue(all(isinstance(r["attributes"].get("dragonfly.candidates"), int)
                            for r in registers), registers)
        # The piece transfers, one span per neighbour (not per piece), on both sides: what the
        # download got from the seed peer, and what the seed peer served it, in the same trace.
        pieces = [s for s in spans if s["name"] == "dfdaemon.pieces"]
        self.assertTrue(pieces)
        self.assertTrue(all(p["parent"] == download["span_id"] for p in pieces))
        self.assertEqual(len({p["attributes"]["dragonfly.neighbour.peer_id"] for p in pieces}),
                         len(pieces), "one span per neighbour")
        self.assertTrue(all(p["attributes"]["dragonfly.neighbour.seed"] for p in pieces))
        for p in pieces:
            self.assertGreaterEqual(p["start"], download["start"])
            self.assertLessEqual(p["end"], download["end"])
        served = [s for s in spans if s["name"] == "dfdaemon.serve_pieces"]
        self.assertEqual({s["service"] for s in served}, {"seed-peer"})
        self.assertTrue(all(s["parent"] == download["span_id"] for s in served))

        # 2. Again on host-a: from its local cache, no download at all.
        st, _, body = request(a.proxy_port, "GET", path)
        self.assertEqual((st, body == data), (200, True))
        wait_for(lambda: len([s for s in self.sink.snapshot() if s["name"] == "dfdaemon.proxy"
                              and s["attributes"].get("http.url") == path]) >= 2,
                 timeout=30, what="the second pull's span")
        root2, spans2 = self.trace_of(path)
        self.assertNotEqual(root2["trace_id"], root["trace_id"])
        self.assertEqual(root2["attributes"]["dragonfly.source"], "local_cache")
        self.assertEqual([s["name"] for s in spans2], ["dfdaemon.proxy"])

        # 3. On host-b (exporting over OTLP/HTTP): from peers, not from the origin.
        st, _, body = request(b.proxy_port, "GET", path)
        self.assertEqual((st, body == data), (200, True))

        def b_trace():
            t = self.trace_of(path)
            return t if t and t[0]["via"] == "http" and any(
                s["name"] == "dfdaemon.download" for s in t[1]) and \
                bytes_of(t[1], "dfdaemon.pieces") == len(data) else None

        wait_for(b_trace, timeout=30, what="host-b's trace over OTLP/HTTP")
        _, spans3 = b_trace()
        download3 = next(s for s in spans3 if s["name"] == "dfdaemon.download")
        self.assertIn(download3["attributes"]["dragonfly.source"], ("remote_peer", "seed_peer"))
        self.assertEqual(download3["attributes"]["dragonfly.bytes.back_to_source"], 0)
        self.assertFalse(any(s["name"] == "dfdaemon.back_to_source" for s in spans3))
        # host-b logs JSON: every line is an object, and those written for this pull name its
        # trace and one of its spans.
        lines = [json.loads(line) for line in b.logs().splitlines() if line.strip()]
        self.assertTrue(all({"time", "level", "component", "msg"} <= set(l) for l in lines))
        trace_id = spans3[0]["trace_id"]
        mine = [l for l in lines if l.get("trace_id") == trace_id]
        self.assertTrue(any(l["msg"] == "download finished" and l["task_id"] == digest
                            for l in mine), mine)
        self.assertTrue({l["span_id"] for l in mine} <= {s["span_id"] for s in spans3})

    def test_a_preheat_is_one_trace_from_the_manager_to_the_origin(self):
        tracing = {"endpoint": self.sink.grpc}
        m = self.c.manager(extra={"tracing": tracing})
        sched = self.c.scheduler(f"manager:\n  addr: {m.grpc_addr}\n  keepAliveInterval: 1s\n"
                                 f"tracing:\n  endpoint: '{self.sink.grpc}'\n")
        seed = self.c.daemon("seed-0", sched, seed=True, extra={
            "manager": {"addrs": [m.grpc_addr], "keepAliveInterval": "1s"}, "tracing": tracing})
        origin = self.c.origin()
        token = m.signin()
        wait_for(lambda: m.request("GET", "/api/v1/seed-peers?state=active", token=token)[1],
                 timeout=30, what="the seed peer to be active in the manager")
        # The origin echoes the request's headers as the content, and fails the first request
        # (a retry the back-to-source span counts).
        url = origin.url("weights.json?echo=1&fail_first=1")
        st, job, _ = m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": url}}, token=token)
        self.assertEqual(st, 200, job)
        self.assertEqual(m.wait_job(job["id"], token)["state"], "SUCCESS")

        def trace():
            roots = [s for s in self.sink.snapshot() if s["name"] == "manager.job"
                     and s["attributes"].get("dragonfly.job.id") == job["id"]]
            if not roots:
                return None
            spans = [s for s in self.sink.snapshot() if s["trace_id"] == roots[0]["trace_id"]]
            names = {(s["service"], s["name"]) for s in spans}
            return spans if {("manager", "manager.job.preheat"),
                             ("seed-peer", "dfdaemon.Download"),
                             ("seed-peer", "dfdaemon.back_to_source")} <= names else None

        wait_for(trace, timeout=30, what="the preheat's trace")
        spans = trace()
        by_name = {s["name"]: s for s in spans}
        root, call = by_name["manager.job"], by_name["manager.job.preheat"]
        self.assertEqual(root["parent"], "")
        self.assertEqual(call["parent"], root["span_id"])
        self.assertEqual(by_name["dfdaemon.Download"]["parent"], call["span_id"])
        b2s = by_name["dfdaemon.back_to_source"]
        self.assertEqual((b2s["attributes"]["http.status_code"],
                          b2s["attributes"]["dragonfly.retries"]), (200, 1))
        # The origin got the back-to-source span's traceparent (what the seed stored is the
        # headers the origin saw).
        out = os.path.join(self.c.dir, "weights.json")
        seed.dfget(url, out)
        with open(out) as f:
            seen = json.load(f)
        self.assertEqual(seen["traceparent"], f"00-{root['trace_id']}-{b2s['span_id']}-01")

    def test_dfget_joins_the_callers_trace_and_a_cache_hit_is_a_span(self):
        origin = self.c.origin()
        sched = self.c.scheduler(f"tracing:\n  endpoint: '{self.sink.grpc}'\n")
        tracing = {"endpoint": self.sink.grpc, "protocol": "grpc"}
        self.c.daemon("seed-0", sched, seed=True, extra={"tracing": tracing})
        a = self.c.daemon("host-a", sched, extra={"tracing": tracing})
        self.c.make_file("model.bin", 6 * MIB)
        trace_id, parent = os.urandom(16).hex(), os.urandom(8).hex()
        env = {**os.environ, "TRACEPARENT": f"00-{trace_id}-{parent}-01"}
        out = os.path.join(self.c.dir, "model.out")
        for _ in range(2):  # a download, then a local cache hit
            r = subprocess.run([os.path.join(BIN, "dfget"), origin.url("model.bin"), "-O", out,
                                "-e", a.socket], env=env, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)

        def calls():
            found = [s for s in self.sink.snapshot()
                     if s["trace_id"] == trace_id and s["name"] == "dfdaemon.Download"]
            return found if len(found) == 2 else None

        wait_for(calls, timeout=30, what="dfget's two calls in the caller's trace")
        first, second = sorted(calls(), key=lambda s: s["start"])
        self.assertEqual((first["parent"], second["parent"]), (parent, parent))
        self.assertEqual(first["attributes"]["dragonfly.cache_hit"], False)
        self.assertEqual(second["attributes"]["dragonfly.cache_hit"], True)
        self.assertEqual(second["attributes"]["dragonfly.source"], "local_cache")
        self.assertEqual(second["attributes"]["dragonfly.content_length"], 6 * MIB)
        wait_for(lambda: any(s["name"] == "dfdaemon.download" and s["parent"] == first["span_id"]
                             for s in self.sink.snapshot()), timeout=30,
                 what="the download under dfget's first call")


if __name__ == "__main__":
    unittest.main()
