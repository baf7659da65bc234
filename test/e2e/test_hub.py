"""hf:// origins (issue #15) against a model hub on loopback that implements the endpoints the
backend calls as the Hugging Face Hub answers them (test/servers/hub.js: revision, tree pages with
Link headers, resolve with a 302 to an LFS "CDN" for large files, a private repository's token
check): `dfget -r hf://owner/model` recreates the repository on three hosts, every file a task
fetched from the hub once, the large ones through P2P; the token never reaches the CDN nor a log;
a missing or wrong token, or an unknown revision, is a clear error and writes nothing."""

import hashlib
import os
import unittest

from cluster import Cluster, sha256_file
from object_store import NODE, HubServer

MIB = 1 << 20
BIG_MB = int(os.environ.get("DF_E2E_LAYER_MB", "48"))


@unittest.skipUnless(NODE, "needs node")
class HubTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-hf-")
        root = os.path.join(self.c.dir, "repo")
        self.files = {
            "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
            "tokenizer.json": os.urandom(200_000),
            "README.md": b"# a small model\n",
            "weights/model-00001-of-00002.safetensors": os.urandom(BIG_MB * MIB),
            "weights/model-00002-of-00002.safetensors": os.urandom(BIG_MB * MIB // 2 + 17),
            "weights/model.safetensors.index.json": b'{"weight_map": {}}',
        }
        for path, data in self.files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "wb") as f:
                f.write(data)
        self.hub = self.c.add(HubServer(self.c.dir, root))
        self.backend = {"huggingFace": {"endpoint": self.hub.endpoint}}

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def tree(self, out):
        got = {}
        for root, _, names in os.walk(out):
            for n in names:
                p = os.path.join(root, n)
                with open(p, "rb") as f:
                    got[os.path.relpath(p, out)] = hashlib.sha256(f.read()).hexdigest()
        return got

    def test_a_repository_reaches_three_hosts_and_the_hub_serves_each_file_once(self):
        sched = self.c.scheduler()
        self.c.daemon("seed-0", sched, seed=True, extra={"backSource": self.backend})
        hosts = [self.c.daemon(f"host-{i}", sched, extra={"backSource": self.backend})
                 for i in range(3)]
        want = {p: hashlib.sha256(d).hexdigest() for p, d in self.files.items()}
        for h in hosts:
            out = os.path.join(self.c.dir, "model-" + h.name)
            r = h.dfget("hf://owner/model", out, "-r", "--hf-token", self.hub.token)
            self.assertIn(f"{len(self.files)} objects: {len(self.files)} downloaded", r.stderr)
            self.assertEqual(self.tree(out), want, h.name)
            self.assertEqual(h.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0, h.name)
        # Each file left the hub (small ones) or its CDN (large ones) once, for the seed peer.
        resolved = [r for r in self.hub.served("hub") if "/resolve/" in r["url"]]
        small = [p for p, d in self.files.items() if len(d) < MIB]
        self.assertEqual(sorted(r["url"].split("/resolve/")[1].split("/", 1)[1]
                                for r in resolved if r["status"] in (200, 206)), sorted(small))
        cdn = [r for r in self.hub.served("cdn") if r["status"] in (200, 206)]
        self.assertEqual(len(cdn), 2, cdn)
        # The listing read the tree in pages (Link rel="next") at one commit.
        trees = [r for r in self.hub.served("hub") if "/tree/" in r["url"]]
        self.assertGreater(len(trees), 3)
        self.assertEqual(len({r["url"].split("/tree/")[1].split("?")[0] for r in trees}), 1)
        # The token went to the hub only, and into no log.
        self.assertTrue(all(r["auth"] for r in self.hub.served("hub")))
        self.assertFalse(any(r["auth"] for r in self.hub.served("cdn")))
        for p in self.c.procs:
            if p is not self.hub:
                self.assertNotIn(self.hub.token, p.logs(), p.name)

        # One file at a revision, from the swarm: the same commit is the same task.
        one = os.path.join(self.c.dir, "config.json")
        r = hosts[0].dfget("hf://owner/model/config.json", one, "--hf-token", self.hub.token,
                           "--hf-revision", "v1.0")
        with open(one, "rb") as f:
            self.assertEqual(f.read(), self.files["config.json"])

    def test_a_missing_or_wrong_token_or_revision_is_a_clear_error(self):
        host = self.c.daemon("host", extra={"backSource": self.backend})
        cases = [
            ((), "Invalid username or password"),
            (("--hf-token", "hf_wrong"), "Invalid credentials in Authorization header"),
            (("--hf-token", self.hub.token, "--hf-revision", "no-such-branch"),
             "Invalid rev id: no-such-branch"),
        ]
        env_token = os.environ.pop("HF_TOKEN", None)
        try:
            for i, (args, reason) in enumerate(cases):
                for url, mode in (("hf://owner/model", ("-r",)),
                                  ("hf://owner/model/config.json", ())):
                    out = os.path.join(self.c.dir, f"out-{i}-{len(mode)}")
                    r = host.dfget(url, out, *mode, *args, check=False)
                    self.assertNotEqual(r.returncode, 0, r.stderr)
                    self.assertIn(reason, r.stderr, (url, args))
                    self.assertFalse(os.path.exists(out), out)
        finally:
            if env_token is not None:
                os.environ["HF_TOKEN"] = env_token
        self.assertNotIn("hf_wrong", host.logs())
        r = host.dfget("hf://owner/model/missing.bin", os.path.join(self.c.dir, "m"),
                       "--hf-token", self.hub.token, check=False)
        self.assertIn("Entry not found", r.stderr)
        r = host.dfget("s3://b/k", os.path.join(self.c.dir, "m"), "--hf-token", "x", check=False)
        self.assertIn("--hf-token and --hf-revision are for hf:// URLs", r.stderr)


if __name__ == "__main__":
    unittest.main()
