"""End-to-end tests of P2P distribution: real scheduler, dfdaemons, dfget and origin processes
on loopback (issue #2, "Done when" 1-7)."""

import hashlib
import os
import re
import signal
import subprocess
import unittest

from cluster import BIN, Cluster, metric, sha256_file, wait_for

MIB = 1 << 20
BIG_MB = int(os.environ.get("DF_E2E_BIG_MB", "256"))


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def assertSameFile(self, path, want_sha):
        self.assertTrue(os.path.exists(path), path)
        self.assertEqual(sha256_file(path), want_sha)

    def out(self, name):
        d = os.path.join(self.c.dir, "out")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)


class P2PDistributionTest(ClusterTest):
    def test_four_peers_fetch_at_once_origin_serves_once(self):
        origin = self.c.origin()
        src = self.c.make_file("big.bin", BIG_MB * MIB)
        want = sha256_file(src)
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True)
        peers = [self.c.daemon(f"peer{i}", sched) for i in range(4)]
        url = origin.url("big.bin")
        procs = [p.dfget_async(url, self.out(f"out{i}")) for i, p in enumerate(peers)]
        for i, pr in enumerate(procs):
            _, err = pr.communicate(timeout=600)
            self.assertEqual(pr.returncode, 0, err)
            self.assertSameFile(self.out(f"out{i}"), want)
        served = origin.stats()["total_bytes"]
        self.assertLessEqual(served, 1.05 * BIG_MB * MIB, f"origin served {served} bytes")
        # The peers got their bytes from the P2P network, not the origin.
        for p in peers:
            self.assertEqual(p.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0)
            self.assertEqual(p.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "remote_peer"}), BIG_MB * MIB)

    def test_second_download_is_a_local_cache_hit(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("f.bin", 9 * MIB))
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        peer = self.c.daemon("peer", sched)
        url = origin.url("f.bin")
        peer.dfget(url, self.out("a"))
        self.assertSameFile(self.out("a"), want)
        before_origin = origin.stats()["total_bytes"]
        before_seed_upload = seed.metric("dragonfly_dfdaemon_upload_bytes_total")
        r = peer.dfget(url, self.out("b"))
        self.assertIn("cache hit", r.stderr)
        self.assertSameFile(self.out("b"), want)
        self.assertEqual(origin.stats()["total_bytes"], before_origin)
        self.assertEqual(seed.metric("dragonfly_dfdaemon_upload_bytes_total"),
                         before_seed_upload)
        self.assertEqual(peer.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "local_peer"}), 9 * MIB)
        # The local API lists, stats and deletes the stored task; after a delete the next
        # download fetches it again.
        listing = peer.dfctl("list")
        self.assertIn("done", listing)
        task_id = listing.split()[0]
        self.assertIn("9437184 bytes", peer.dfctl("stat", task_id))
        self.assertIn("deleted", peer.dfctl("delete", task_id))
        self.assertEqual(peer.dfctl("list").strip(), "")
        r = peer.dfget(url, self.out("c"))
        self.assertNotIn("cache hit", r.stderr)
        self.assertSameFile(self.out("c"), want)

    def test_output_to_standard_output(self):
        """`dfget URL -O -` streams the bytes to a pipe in order; a digest mismatch still fails
        the command."""
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("s.bin", 9 * MIB + 7))
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True)
        peer = self.c.daemon("peer", sched)
        argv = [os.path.join(BIN, "dfget"), origin.url("s.bin"), "-O", "-", "-e", peer.socket]
        r = subprocess.run(argv, capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(hashlib.sha256(r.stdout).hexdigest(), want)
        self.assertEqual(peer.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "back_to_source"}), 0)
        r = subprocess.run(argv + ["--digest", "sha256:" + "0" * 64], capture_output=True,
                           timeout=300)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"digest mismatch", r.stderr)

    def test_unknown_content_length(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("nolen.bin", 10 * MIB + 123))
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True)
        a = self.c.daemon("a", sched)
        b = self.c.daemon("b", sched)
        url = origin.url("nolen.bin") + "?nolength=1"
        a.dfget(url, self.out("a"))
        b.dfget(url, self.out("b"))
        self.assertSameFile(self.out("a"), want)
        self.assertSameFile(self.out("b"), want)
        self.assertLessEqual(origin.stats()["total_bytes"], 10 * MIB + 123)


class FailureTest(ClusterTest):
    def test_parent_killed_mid_transfer(self):
        origin = self.c.origin()
        size = 64 * MIB
        want = sha256_file(self.c.make_file("k.bin", size))
        sched = self.c.scheduler()
        # Slow uploads so the transfer is still running when the parent dies.
        slow = {"upload": {"rateLimit": "16MiB"}}
        self.c.daemon("seed", sched, seed=True, extra=slow)
        victim = self.c.daemon("victim", sched, extra=slow)
        url = origin.url("k.bin")
        first = victim.dfget_async(url, self.out("victim.out"))
        wait_for(lambda: victim.metric("dragonfly_dfdaemon_download_pieces_total") >= 2,
                 what="victim has pieces")
        others = [self.c.daemon(f"p{i}", sched, extra=slow) for i in range(2)]
        procs = [p.dfget_async(url, self.out(f"p{i}.out")) for i, p in enumerate(others)]
        wait_for(lambda: victim.metric("dragonfly_dfdaemon_upload_bytes_total") > 0,
                 what="victim serving children")
        victim.kill(signal.SIGKILL)
        first.communicate(timeout=60)
        for i, pr in enumerate(procs):
            _, err = pr.communicate(timeout=600)
            self.assertEqual(pr.returncode, 0, err)
            self.assertSameFile(self.out(f"p{i}.out"), want)

    def test_corrupt_parent_is_detected_and_dropped(self):
        origin = self.c.origin()
        size = 24 * MIB
        want = sha256_file(self.c.make_file("c.bin", size))
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True,
                      extra={"testing": {"corruptUploadPieces": [1, 3]}})
        peer = self.c.daemon("peer", sched)
        peer.dfget(origin.url("c.bin"), self.out("c"))
        self.assertSameFile(self.out("c"), want)
        self.assertGreaterEqual(
            peer.metric("dragonfly_dfdaemon_piece_failures_total", {"reason": "corrupt"}), 1)
        self.assertIn("dropping neighbour", peer.logs())

    def test_daemon_restart_resumes_without_refetching(self):
        origin = self.c.origin()
        size = 48 * MIB
        want = sha256_file(self.c.make_file("r.bin", size))
        d = self.c.daemon("solo")  # no scheduler: back-to-source
        url = origin.url("r.bin") + f"?slow={12 * MIB}"
        pr = d.dfget_async(url, self.out("r"))
        wait_for(lambda: d.metric("dragonfly_dfdaemon_download_pieces_total") >= 5,
                 what="five pieces stored")
        # Metadata is flushed at least once a second; wait for a flush that records pieces.
        meta = None

        def stored_pieces():
            nonlocal meta
            import glob
            import json
            files = glob.glob(os.path.join(d.store, "*", "meta.json"))
            if not files:
                return 0
            try:
                with open(files[0]) as f:
                    meta = json.load(f)
            except ValueError:
                return 0
            return len(meta["pieces"])

        wait_for(lambda: stored_pieces() >= 3, what="pieces flushed to metadata")
        d.kill(signal.SIGKILL)
        _, err = pr.communicate(timeout=60)
        self.assertNotEqual(pr.returncode, 0)
        self.assertFalse(os.path.exists(self.out("r")), "partial output left behind")
        persisted = stored_pieces()
        kept = sum(p[2] for p in meta["pieces"])
        origin.reset()
        d.start()
        d.dfget(url, self.out("r"))
        self.assertSameFile(self.out("r"), want)
        refetched = origin.stats()["total_bytes"]
        self.assertGreaterEqual(persisted, 3)
        # Slack: the killed download's origin connection may still count a throttled chunk
        # after the reset; it is far below one piece, so no stored piece was fetched again.
        self.assertLessEqual(refetched, size - kept + MIB,
                             f"refetched {refetched} bytes though {kept} were stored")


    def test_a_restarted_daemon_serves_its_stored_tasks(self):
        """Issue #12: a daemon that restarts announces the tasks it holds whole, and a new peer
        gets them from it, with no origin request (there is no seed peer: before, the new peer
        went back to the origin)."""
        origin = self.c.origin()
        size = 6 * MIB
        want = sha256_file(self.c.make_file("stored.bin", size))
        sched = self.c.scheduler()
        holder = self.c.daemon("holder", sched)
        url = origin.url("stored.bin")
        holder.dfget(url, self.out("h"))
        self.assertEqual(origin.stats()["requests"].get("/stored.bin"), 1)
        # It leaves the scheduler on the way down: the scheduler forgets its peers.
        self.assertEqual(holder.kill(signal.SIGTERM), 0)
        holder.start()
        wait_for(lambda: "stored tasks announced=1" in holder.logs(),
                 what="the restarted daemon to announce its task")
        late = self.c.daemon("late", sched)
        late.dfget(url, self.out("l"))
        self.assertSameFile(self.out("l"), want)
        self.assertEqual(late.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "remote_peer"}), size)
        self.assertEqual(origin.stats()["requests"].get("/stored.bin"), 1)

    def test_stored_files_are_private_and_corrupt_metadata_is_discarded(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("m.bin", 5 * MIB))
        d = self.c.daemon("solo")  # no scheduler: back-to-source
        d.dfget(origin.url("m.bin"), self.out("m1"))
        import glob
        import json
        [meta] = glob.glob(os.path.join(d.store, "*", "meta.json"))
        task_dir = os.path.dirname(meta)
        self.assertEqual(os.stat(task_dir).st_mode & 0o777, 0o750)
        for f, mode in (("meta.json", 0o600), ("data", 0o640)):  # the group reads data (dfget)
            self.assertEqual(os.stat(os.path.join(task_dir, f)).st_mode & 0o777, mode, f)
        d.kill(signal.SIGTERM)
        # A wrong JSON type in the metadata used to abort the daemon at every start.
        with open(meta, "w") as f:
            json.dump({"task_id": os.path.basename(task_dir), "content_length": "x",
                       "piece_length": 4194304, "pieces": [["a", 1, 2]]}, f)
        d.start()
        self.assertIn("discarding stored task", d.logs())
        self.assertFalse(os.path.exists(task_dir))
        d.dfget(origin.url("m.bin"), self.out("m2"))
        self.assertSameFile(self.out("m2"), want)


class SchedulerUnreachableTest(ClusterTest):
    def test_back_to_source_with_warning(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("u.bin", 5 * MIB))
        d = self.c.daemon("lonely", "127.0.0.1:1")
        r = d.dfget(origin.url("u.bin"), self.out("u"))
        self.assertIn("warning: scheduler unreachable", r.stderr)
        self.assertSameFile(self.out("u"), want)

    def test_back_to_source_can_be_disallowed(self):
        origin = self.c.origin()
        self.c.make_file("v.bin", 1 * MIB)
        d = self.c.daemon("strict", "127.0.0.1:1",
                          extra={"scheduler": {"backToSourceWhenUnreachable": False}})
        r = d.dfget(origin.url("v.bin"), self.out("v"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("scheduler unreachable", r.stderr)
        self.assertFalse(os.path.exists(self.out("v")))


class HttpsOriginTest(ClusterTest):
    def test_custom_ca_insecure_and_untrusted(self):
        cert, key = self.c.self_signed_cert()
        origin = self.c.origin(tls=(cert, key))
        want = sha256_file(self.c.make_file("s.bin", 6 * MIB))
        url = origin.url("s.bin", "localhost")
        trusting = self.c.daemon("trusting", extra={"backSource": {"caCert": cert}})
        trusting.dfget(url, self.out("s1"))
        self.assertSameFile(self.out("s1"), want)
        insecure = self.c.daemon("insecure", extra={"backSource": {"insecure": True}})
        insecure.dfget(url, self.out("s2"))
        self.assertSameFile(self.out("s2"), want)
        strict = self.c.daemon("strict")
        r = strict.dfget(url, self.out("s3"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr.lower())
        self.assertFalse(os.path.exists(self.out("s3")))


class BadInputTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.origin = self.c.origin()
        self.c.make_file("ok.bin", 1 * MIB)
        self.d = self.c.daemon("d")

    def assertFails(self, url, output, *args, want):
        r = self.d.dfget(url, output, *args, check=False)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(want, lines[0])
        self.assertFalse(os.path.exists(output))
        leftovers = [f for f in os.listdir(os.path.dirname(output)) if ".dfget-" in f]
        self.assertEqual(leftovers, [])

    def test_malformed_url(self):
        self.assertFails("htp:/bad url", self.out("x"), want="URL")

    def test_unreachable_origin(self):
        self.assertFails("http://127.0.0.1:1/x.bin", self.out("x"), want="127.0.0.1:1")

    def test_404(self):
        self.assertFails(self.origin.url("missing.bin"), self.out("x"), want="404")

    def test_digest_mismatch(self):
        self.assertFails(self.origin.url("ok.bin"), self.out("x"),
                         "--digest", "sha256:" + "0" * 64, want="digest mismatch")

    def test_bad_digest_spec(self):
        self.assertFails(self.origin.url("ok.bin"), self.out("x"), "--digest", "md5:abc",
                         want="digest")

    def test_unwritable_output(self):
        r = self.d.dfget(self.origin.url("ok.bin"), "/proc/nonexistent-dir/x", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot write output", r.stderr)

    def test_no_daemon(self):
        sock = os.path.join(self.c.dir, "nothing.sock")
        from cluster import BIN
        r = subprocess.run([os.path.join(BIN, "dfget"), self.origin.url("ok.bin"), "-O",
                            self.out("x"), "-e", sock], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("dfdaemon is not running", r.stderr)
        self.assertFalse(os.path.exists(self.out("x")))

    def test_timeout(self):
        self.c.make_file("slow.bin", 8 * MIB)
        self.assertFails(self.origin.url("slow.bin") + "?slow=1048576", self.out("x"),
                         "--timeout", "1s", want="timed out")

    def test_health_endpoints(self):
        import urllib.request
        url = f"http://127.0.0.1:{self.d.metrics_port}/healthy"
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.status, 200)
        sched = self.c.scheduler()
        port = int(re.search(r"metrics listening on 127\.0\.0\.1:(\d+)",
                             sched.logs()).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthy", timeout=10) as r:
            self.assertEqual(r.status, 200)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            self.assertIn("dragonfly_scheduler_hosts", r.read().decode())

    def test_good_digest_passes(self):
        want = sha256_file(os.path.join(self.c.origin_root, "ok.bin"))
        self.d.dfget(self.origin.url("ok.bin"), self.out("ok"), "--digest", "sha256:" + want)
        self.assertSameFile(self.out("ok"), want)

    def test_unknown_config_key(self):
        from cluster import BIN
        cfg = os.path.join(self.c.dir, "bad.yaml")
        with open(cfg, "w") as f:
            f.write("upload:\n  listn: 127.0.0.1:0\n")
        r = subprocess.run([os.path.join(BIN, "dfdaemon"), "--config", cfg],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("upload.listn", r.stderr)
        r = subprocess.run([os.path.join(BIN, "dfdaemon"), "--config", cfg + ".missing"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot be read", r.stderr)

    def test_bad_listen_addresses_are_refused_at_start(self):
        from cluster import BIN
        cases = [
            ("dfdaemon", "upload:\n  listen: '::1:4005'\n", "upload.listen",
             "an IPv6 address needs brackets: [::1]:4005"),
            ("dfdaemon", "proxy:\n  listen: 'no-such-host.invalid:0'\n", "no-such-host.invalid",
             "cannot listen"),
            ("scheduler", "server:\n  listen: '[::1]'\n", "server.listen", "want [IPv6]:PORT"),
            ("manager", "server:\n  grpc:\n    addr: '1.2.3.999:0'\n", "server.grpc.addr",
             "neither an IP address nor a host name"),
            # Secure by default: beyond loopback only with certificates or `insecure: true`.
            ("scheduler", "server:\n  listen: '0.0.0.0:0'\nmetrics:\n  listen: '127.0.0.1:0'\n",
             "server.listen", "reachable from other hosts"),
            ("dfdaemon", "upload:\n  listen: '127.0.0.1:0'\n  rpcListen: '0.0.0.0:0'\n",
             "upload.rpcListen", "security.insecure: true"),
        ]
        for i, (binary, yaml, key, why) in enumerate(cases):
            cfg = os.path.join(self.c.dir, f"bad-listen-{i}.yaml")
            if binary == "dfdaemon":  # everything else on free ports and private paths
                home = os.path.join(self.c.dir, f"bad-{i}")
                yaml += (f"storage: {{dir: {home}/store}}\nserver: {{socketPath: {home}/d.sock}}\n"
                         "metrics: {listen: '127.0.0.1:0'}\n")
                yaml += "" if "upload" in yaml else \
                    "upload: {listen: '127.0.0.1:0', rpcListen: '127.0.0.1:0'}\n"
            with open(cfg, "w") as f:
                f.write(yaml)
            r = subprocess.run([os.path.join(BIN, binary), "--config", cfg],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, (binary, yaml))
            self.assertIn(key, r.stderr, (binary, yaml))
            self.assertIn(why, r.stderr, (binary, yaml))


if __name__ == "__main__":
    unittest.main()
