"""The checks every object store backend passes (issue #15), run by test_s3.py and test_azure.py
against their real servers: one object on three hosts served once by the store; a prefix of 50
nested objects as a tree of tasks, a rerun that transfers nothing, --include-files; wrong
credentials a one-line 403 with the store's reason; a missing object a 404 that says so; no
secret in any log.

A subclass sets `scheme`, `container` and implements `make_store()` (the started server, with
put(container, key, data) and requests(method, path)), `backend(bad=False, keys=True)` (the
dfdaemon's backSource section; bad: wrong credentials; keys=False: the endpoint and no
credentials), `credential_flags()` (dfget's --storage-* for the store's credentials),
`object_path(key)` (the path the store logs for the object) and `is_listing(request)`; `denied`
and `missing` are the store's reasons. The store's request log says whether a request was
signed (`auth`).
"""

import hashlib
import os

from cluster import Cluster, sha256_file

MIB = 1 << 20
SIZE_MB = int(os.environ.get("DF_E2E_BIG_MB", "256"))


class ObjectStoreCases:
    scheme = container = denied = missing = None
    anonymous_denied = True  # the store refuses a request without credentials

    def setUp(self):
        self.c = Cluster(prefix=f"df-{self.scheme}-")
        self.store = self.make_store()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def url(self, key):
        return f"{self.scheme}://{self.container}/{key}"

    def secrets(self):
        """What must never show in a log."""
        return []

    def test_an_object_reaches_three_hosts_and_the_store_serves_it_once(self):
        data = os.urandom(SIZE_MB * MIB)
        self.store.put(self.container, "llama/weights.bin", data)
        backend = self.backend()
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": backend})
        hosts = [self.c.daemon(f"host-{i}", sched, extra={"backSource": backend})
                 for i in range(3)]
        want = hashlib.sha256(data).hexdigest()
        for h in hosts:
            out = os.path.join(self.c.dir, f"{h.name}.bin")
            h.dfget(self.url("llama/weights.bin"), out)
            self.assertEqual(sha256_file(out), want, h.name)
        gets = [r for r in self.store.requests("GET", self.object_path("llama/weights.bin"))
                if r["status"] in (200, 206)]
        self.assertEqual(len(gets), 1, gets)
        for h in hosts:
            self.assertEqual(h.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0, h.name)
        for p in self.c.procs:
            for secret in self.secrets():
                self.assertNotIn(secret, p.logs(), f"a secret in {p.name}'s log")

    def test_a_prefix_is_a_tree_of_tasks_and_a_rerun_transfers_nothing(self):
        files = {}
        for i in range(50):  # 50 small objects in nested "directories"
            path = f"d{i % 3}/sub{i % 2}/file-{i}." + ("json" if i % 5 == 0 else "bin")
            files[path] = os.urandom(1000 + i)
            self.store.put(self.container, "dataset/" + path, files[path])
        self.store.put(self.container, "other/outside.bin", b"not under the prefix")
        backend = self.backend()
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": backend})
        host = self.c.daemon("host-0", sched, extra={"backSource": backend})
        out = os.path.join(self.c.dir, "dataset")
        r = host.dfget(self.url("dataset/"), out, "-r")
        self.assertIn("50 objects: 50 downloaded", r.stderr)
        got = {}
        for root, _, names in os.walk(out):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    got[os.path.relpath(p, out)] = f.read()
        self.assertEqual(got, files)  # the tree, byte for byte, and nothing else
        served = len(self.store.requests("GET"))

        # Again: everything is there, only the listing is asked for.
        r = host.dfget(self.url("dataset/"), out, "-r")
        self.assertIn("50 objects: 0 downloaded (0 bytes), 50 already there", r.stderr)
        after = self.store.requests("GET")[served:]
        self.assertTrue(after)
        self.assertEqual([q for q in after if not self.is_listing(q)], [])

        # Only the JSON files, into another directory.
        only = os.path.join(self.c.dir, "json")
        host.dfget(self.url("dataset"), only, "-r", "--include-files", "*.json")
        want = sorted(p for p in files if p.endswith(".json"))
        got = sorted(os.path.relpath(os.path.join(root, n), only)
                     for root, _, names in os.walk(only) for n in names)
        self.assertEqual(got, want)
        self.assertEqual(len(want), 10)

        # A prefix with nothing under it, and a plain file URL: clear errors, nothing written.
        r = host.dfget(self.url("nothing-here/"), os.path.join(self.c.dir, "empty"), "-r")
        self.assertIn("0 objects", r.stderr)
        r = host.dfget("https://example.invalid/dir/", os.path.join(self.c.dir, "x"), "-r",
                       check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("only object storage and hub URLs", r.stderr)

    def test_credentials_given_per_download_reach_the_seed_peer(self):
        data = os.urandom(3 * MIB + 5)
        self.store.put(self.container, "per-download/a.bin", data)
        backend = self.backend(keys=False)  # no daemon has credentials of its own
        if self.anonymous_denied:
            lone = self.c.daemon("lone", extra={"backSource": backend})
            r = lone.dfget(self.url("per-download/a.bin"), os.path.join(self.c.dir, "none.bin"),
                           check=False)
            self.assertNotEqual(r.returncode, 0, "the store served a download without credentials")
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": backend})
        host = self.c.daemon("host-0", sched, extra={"backSource": backend})
        out = os.path.join(self.c.dir, "a.bin")
        host.dfget(self.url("per-download/a.bin"), out, *self.credential_flags())
        self.assertEqual(sha256_file(out), hashlib.sha256(data).hexdigest())
        # The triggered seed peer fetched it, with the download's credentials.
        self.assertEqual(host.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "back_to_source"}), 0)
        gets = [q for q in self.store.requests("GET", self.object_path("per-download/a.bin"))
                if q["status"] in (200, 206)]
        self.assertEqual([q["auth"] for q in gets], [True])
        # A listing with them too.
        tree = os.path.join(self.c.dir, "per-download")
        r = host.dfget(self.url("per-download/"), tree, "-r", *self.credential_flags())
        self.assertIn("1 objects: 1 downloaded", r.stderr)
        with open(os.path.join(tree, "a.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        for p in self.c.procs:
            for secret in self.secrets():
                self.assertNotIn(secret, p.logs(), f"a secret in {p.name}'s log")

    def test_wrong_credentials_are_a_one_line_error_with_the_stores_reason(self):
        self.store.put(self.container, "small.bin", b"x" * 1024)
        bad = self.c.daemon("host", extra={"backSource": self.backend(bad=True)})
        r = bad.dfget(self.url("small.bin"), os.path.join(self.c.dir, "small.bin"), check=False)
        self.assertNotEqual(r.returncode, 0)
        errors = [line for line in r.stderr.splitlines() if "403" in line]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn(self.denied, errors[0])
        for secret in self.secrets():
            self.assertNotIn(secret, r.stderr + bad.logs())
        self.assertFalse(os.path.exists(os.path.join(self.c.dir, "small.bin")))
        # A key the store does not have is a 404 that says so.
        good = self.c.daemon("host-2", extra={"backSource": self.backend()})
        r = good.dfget(self.url("missing.bin"), os.path.join(self.c.dir, "missing.bin"),
                       check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(self.missing, r.stderr)
