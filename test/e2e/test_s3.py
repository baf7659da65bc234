"""s3:// origins (issue #15): a real S3-compatible server that verifies AWS Signature V4
(test/servers/s3.js) holds an object; dfget of s3://bucket/key on three hosts gets the right
bytes while the server serves the object once; wrong credentials are a one-line 403 error that
names the store's reason; the secret is never written to a log."""

import hashlib
import os
import unittest

from cluster import Cluster, sha256_file
from object_store import NODE, S3_READY, S3Server

MIB = 1 << 20
SIZE_MB = int(os.environ.get("DF_E2E_BIG_MB", "256"))


@unittest.skipUnless(NODE and S3_READY,
                     "needs node and `npm ci` in test/servers (the project's build does it)")
class S3Test(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-s3-")
        self.s3 = self.c.add(S3Server(self.c.dir))

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def test_an_object_reaches_three_hosts_and_the_store_serves_it_once(self):
        data = os.urandom(SIZE_MB * MIB)
        self.s3.put("models", "llama/weights.bin", data)
        backend = {"s3": self.s3.backend_config()}
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": backend})
        hosts = [self.c.daemon(f"host-{i}", sched, extra={"backSource": backend})
                 for i in range(3)]
        url = "s3://models/llama/weights.bin"
        want = hashlib.sha256(data).hexdigest()
        for h in hosts:
            out = os.path.join(self.c.dir, f"{h.name}.bin")
            h.dfget(url, out)
            self.assertEqual(sha256_file(out), want, h.name)
        gets = [r for r in self.s3.requests("GET", "/models/llama/weights.bin")
                if r["status"] in (200, 206)]
        self.assertEqual(len(gets), 1, gets)
        for h in hosts:
            self.assertEqual(h.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0, h.name)
        for p in self.c.procs:
            self.assertNotIn(self.s3.secret, p.logs(), f"the secret in {p.name}'s log")

    def test_a_prefix_is_a_tree_of_tasks_and_a_rerun_transfers_nothing(self):
        files = {}
        for i in range(50):  # 50 small objects in nested "directories"
            path = f"d{i % 3}/sub{i % 2}/file-{i}." + ("json" if i % 5 == 0 else "bin")
            files[path] = os.urandom(1000 + i)
            self.s3.put("models", "dataset/" + path, files[path])
        self.s3.put("models", "other/outside.bin", b"not under the prefix")
        backend = {"s3": self.s3.backend_config()}
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": backend})
        host = self.c.daemon("host-0", sched, extra={"backSource": backend})
        out = os.path.join(self.c.dir, "dataset")
        r = host.dfget("s3://models/dataset/", out, "-r")
        self.assertIn("50 objects: 50 downloaded", r.stderr)
        got = {}
        for root, _, names in os.walk(out):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    got[os.path.relpath(p, out)] = f.read()
        self.assertEqual(got, files)  # the tree, byte for byte, and nothing else
        served = len(self.s3.requests("GET"))

        # Again: everything is there, only the listing is asked for.
        r = host.dfget("s3://models/dataset/", out, "-r")
        self.assertIn("50 objects: 0 downloaded (0 bytes), 50 already there", r.stderr)
        listings = [q for q in self.s3.requests("GET")[served:] if "list-type=2" in q["url"]]
        self.assertEqual(len(self.s3.requests("GET")) - served, len(listings))

        # Only the JSON files, into another directory.
        only = os.path.join(self.c.dir, "json")
        r = host.dfget("s3://models/dataset", only, "-r", "--include-files", "*.json")
        want = sorted(p for p in files if p.endswith(".json"))
        got = sorted(os.path.relpath(os.path.join(root, n), only)
                     for root, _, names in os.walk(only) for n in names)
        self.assertEqual(got, want)
        self.assertEqual(len(want), 10)

        # A prefix with nothing under it, and a plain file URL: clear errors, nothing written.
        r = host.dfget("s3://models/nothing-here/", os.path.join(self.c.dir, "empty"), "-r")
        self.assertIn("0 objects", r.stderr)
        r = host.dfget("https://example.invalid/dir/", os.path.join(self.c.dir, "x"), "-r",
                       check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("only object storage URLs", r.stderr)

    def test_wrong_credentials_are_a_one_line_error_with_the_stores_reason(self):
        self.s3.put("models", "small.bin", b"x" * 1024)
        bad = self.c.daemon("host", extra={"backSource": {
            "s3": self.s3.backend_config(secret="not-the-secret")}})
        r = bad.dfget("s3://models/small.bin", os.path.join(self.c.dir, "small.bin"),
                      check=False)
        self.assertNotEqual(r.returncode, 0)
        errors = [line for line in r.stderr.splitlines() if "403" in line]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn("SignatureDoesNotMatch", errors[0])
        self.assertNotIn("not-the-secret", r.stderr + bad.logs())
        self.assertFalse(os.path.exists(os.path.join(self.c.dir, "small.bin")))
        # A key the store does not have is a 404 that says so.
        good = self.c.daemon("host-2", extra={"backSource": {"s3": self.s3.backend_config()}})
        r = good.dfget("s3://models/missing.bin", os.path.join(self.c.dir, "missing.bin"),
                       check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("NoSuchKey", r.stderr)


if __name__ == "__main__":
    unittest.main()
