"""dfcache: persistent cache tasks (issue #15). A file imported on one host with --replicas 2 is
held by two hosts (a seed peer first) and exported on others with no origin anywhere; a holder
that dies is replaced from the remaining holders; a holder that restarts keeps the task and is a
holder again; `delete` removes it from every host; after its TTL it is gone from the cluster and
from every store; `stat` shows state and holders; bad input is a clear error."""

import hashlib
import json
import os
import signal
import subprocess
import time
import unittest

from cluster import BIN, Cluster, sha256_file, wait_for

MIB = 1 << 20
SIZE_MB = int(os.environ.get("DF_E2E_CACHE_MB", os.environ.get("DF_E2E_BIG_MB", "128")))


class DfcacheTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-dfcache-")
        # No origin (but in the attacker test). Holders announce every 2 s; one silent for 5 s is
        # gone.
        self.sched = self.c.scheduler("scheduler:\n  persistentCacheHolderTTL: 5s\n")
        fast_gc = {"gc": {"interval": "1s"}}
        self.seed = self.c.daemon("seed-0", self.sched, seed=True, extra=fast_gc)
        self.a, self.b, self.d = (self.c.daemon(n, self.sched, extra=fast_gc)
                                  for n in ("host-a", "host-b", "host-c"))

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def dfcache(self, host, *args, check=True):
        r = subprocess.run([os.path.join(BIN, "dfcache"), "-e", host.socket, *args],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"dfcache {args} failed: {r.stderr}\n{host.logs()[-3000:]}")
        return r

    def stat(self, host, task_id):
        """The scheduler's answer as JSON, or None when the task is not in the cluster."""
        r = self.dfcache(host, "stat", task_id, "--json", check=False)
        if r.returncode != 0:
            self.assertIn("not in the cluster", r.stderr)
            return None
        return json.loads(r.stdout)

    def holders(self, task_id, via=None):
        st = self.stat(via or self.b, task_id)
        return sorted(h["hostname"] for h in (st or {}).get("holders", []))

    def stored(self, host, task_id):
        r = subprocess.run([os.path.join(BIN, "dfctl"), "-e", host.socket, "list"],
                           capture_output=True, text=True, timeout=60)
        return task_id in r.stdout

    def make(self, name, size):
        data = os.urandom(size)
        path = os.path.join(self.c.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def test_import_replicate_export_survive_and_delete(self):
        path, data = self.make("weights.bin", SIZE_MB * MIB)
        r = self.dfcache(self.a, "import", path, "--replicas", "2", "--ttl", "1h")
        task_id = r.stdout.strip()
        # Named by its content, as Dragonfly names persistent cache tasks.
        self.assertEqual(task_id, hashlib.sha256(data + b"PERSISTENT_CACHE").hexdigest())
        wait_for(lambda: self.holders(task_id) == ["host-a", "seed-0"], timeout=120,
                 what="the seed peer to hold the second replica")
        st = self.stat(self.b, task_id)
        self.assertEqual(st["state"], "ready")
        self.assertEqual(int(st["task"]["content_length"]), len(data))
        self.assertEqual(st["task"]["digest"], "sha256:" + hashlib.sha256(data).hexdigest())
        text = self.dfcache(self.b, "stat", task_id).stdout
        self.assertIn("ready (2 of 2 replicas)", text)
        self.assertIn("seed-0", text)

        # Exported on two other hosts, through P2P from the holders: there is no origin.
        want = hashlib.sha256(data).hexdigest()
        for h in (self.b, self.d):
            out = os.path.join(self.c.dir, f"export-{h.name}.bin")
            self.dfcache(h, "export", task_id, "-O", out)
            self.assertEqual(sha256_file(out), want, h.name)
            self.assertEqual(h.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0)
        self.assertEqual(self.holders(task_id), ["host-a", "seed-0"])  # exports are no replicas
        for h in (self.b, self.d):  # nor do they try to be
            self.assertNotIn("persistent cache task not announced", h.logs())

        # A holder restarts: it keeps the task and is a holder again (announced after it came
        # back: the scheduler last heard of it less time ago than the restart).
        self.a.kill(signal.SIGTERM)
        restarted = time.monotonic()
        self.a.start()
        self.assertTrue(self.stored(self.a, task_id))
        wait_for(lambda: any(h["hostname"] == "host-a" and int(h["last_seen_ms_ago"]) <
                             (time.monotonic() - restarted) * 1000 - 200
                             for h in self.stat(self.b, task_id)["holders"]),
                 timeout=30, what="the restarted holder to announce the task again")

        # A holder dies: the cluster brings the task back to two holders from the other one.
        self.seed.kill()
        wait_for(lambda: len(self.holders(task_id)) == 2 and
                 "seed-0" not in self.holders(task_id), timeout=60,
                 what="a new holder in place of the dead seed peer")
        self.assertIn("host-a", self.holders(task_id))

        # Deleted: from the cluster and from every store.
        r = self.dfcache(self.b, "delete", task_id)
        self.assertIn("deleted", r.stderr)
        self.assertIsNone(self.stat(self.b, task_id))
        wait_for(lambda: not any(self.stored(h, task_id) for h in (self.a, self.b, self.d)),
                 timeout=30, what="every host to drop the deleted task")
        r = self.dfcache(self.d, "export", task_id, "-O", os.path.join(self.c.dir, "gone.bin"),
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not in the cluster", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.c.dir, "gone.bin")))

    def test_a_task_is_gone_everywhere_after_its_ttl(self):
        path, data = self.make("short.bin", 5 * MIB)
        task_id = self.dfcache(self.a, "import", path, "--replicas", "2", "--ttl", "6s",
                               "--tag", "v1").stdout.strip()
        self.assertEqual(task_id, hashlib.sha256(data + b"v1PERSISTENT_CACHE").hexdigest())
        out = os.path.join(self.c.dir, "short.out")
        self.dfcache(self.b, "export", task_id, "-O", out)
        self.assertEqual(sha256_file(out), hashlib.sha256(data).hexdigest())
        wait_for(lambda: self.stat(self.b, task_id) is None, timeout=30,
                 what="the task to expire in the cluster")
        wait_for(lambda: not any(self.stored(h, task_id)
                                 for h in (self.a, self.b, self.d, self.seed)),
                 timeout=30, what="every host's GC to drop the expired task")

    def test_an_import_cannot_take_a_url_tasks_id(self):
        # The attacker: a local user imports other bytes under the ID of a URL's task stored
        # here, so that the host would serve them to anyone who downloads that URL.
        origin = self.c.origin()
        self.c.make_file("model.bin", 2 * MIB)
        url = origin.url("model.bin")
        good = os.path.join(self.c.dir, "model.out")
        self.a.dfget(url, good)
        url_task = [line.split()[0] for line in self.a.dfctl("list").splitlines()
                    if url in line][0]
        fake, _ = self.make("fake.bin", 2 * MIB)
        r = self.dfcache(self.a, "import", fake, "--id", url_task, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a URL's task", r.stderr)
        again = os.path.join(self.c.dir, "model.again")
        self.a.dfget(url, again)
        self.assertEqual(sha256_file(again), sha256_file(good))
        # Nor can an export serve the URL's task as a persistent cache task.
        r = self.dfcache(self.a, "export", url_task, "-O", os.path.join(self.c.dir, "x"),
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a persistent cache task", r.stderr)

    def test_bad_input_is_a_clear_error(self):
        empty, _ = self.make("empty.bin", 0)
        small, _ = self.make("small.bin", 1000)
        cases = [
            (("import", empty), "empty file"),
            (("import", small, "--replicas", "0"), "--replicas must be in [1, 16]"),
            (("import", small, "--ttl", "0s"), "--ttl"),
            (("import", small, "--id", "../etc"), "--id"),
            (("import", os.path.join(self.c.dir, "missing.bin")), "No such file"),
            (("stat", "not-hex"), "lowercase hex"),
            (("stat", "ab" * 32), "not in the cluster"),
            (("export", "ab" * 32, "-O", os.path.join(self.c.dir, "x")), "not in the cluster"),
            (("delete", "ab" * 32), "not in the cluster"),
        ]
        for args, reason in cases:
            r = self.dfcache(self.a, *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(reason, r.stderr, args)
        self.assertFalse(os.path.exists(os.path.join(self.c.dir, "x")))
        # Nothing was left in the store by the refused imports.
        r = subprocess.run([os.path.join(BIN, "dfctl"), "-e", self.a.socket, "list"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stdout.strip(), "")
        self.assertEqual([n for n in os.listdir(self.a.store) if n.startswith(".import")], [])


class DfcacheManagerTest(unittest.TestCase):
    """The manager's API lists the persistent cache tasks its schedulers keep, with holders."""

    def setUp(self):
        self.c = Cluster(prefix="df-dfcache-manager-")
        self.m = self.c.manager()
        sched = self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n  keepAliveInterval: 1s\n")
        self.c.daemon("seed-0", sched, seed=True)
        self.a = self.c.daemon("host-a", sched)
        self.token = self.m.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def listed(self):
        st, body, _ = self.m.request("GET", "/api/v1/persistent-cache-tasks", token=self.token)
        self.assertEqual(st, 200, body)
        return body

    def test_the_manager_lists_and_deletes_persistent_cache_tasks(self):
        path = os.path.join(self.c.dir, "data.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(3 * MIB))
        r = subprocess.run([os.path.join(BIN, "dfcache"), "-e", self.a.socket, "import", path,
                            "--replicas", "2", "--application", "train"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        task_id = r.stdout.strip()
        wait_for(lambda: [t for t in self.listed() if t["task_id"] == task_id and
                          sorted(h["hostname"] for h in t["holders"]) == ["host-a", "seed-0"]],
                 timeout=60, what="the manager to list the task with its two holders")
        t = [t for t in self.listed() if t["task_id"] == task_id][0]
        self.assertEqual((t["application"], t["replicas"], t["state"], t["content_length"]),
                         ("train", 2, "ready", 3 * MIB))
        # Only signed-in users see it; only root deletes it.
        st, _, _ = self.m.request("GET", "/api/v1/persistent-cache-tasks")
        self.assertEqual(st, 401)
        st, body, _ = self.m.request("DELETE", f"/api/v1/persistent-cache-tasks/{task_id}",
                                     token=self.token)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["hosts"], 2)
        self.assertEqual([t for t in self.listed() if t["task_id"] == task_id], [])
        st, _, _ = self.m.request("DELETE", f"/api/v1/persistent-cache-tasks/{task_id}",
                                  token=self.token)
        self.assertEqual(st, 404)


if __name__ == "__main__":
    unittest.main()
