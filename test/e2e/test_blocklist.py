"""A cluster's blocklist (issue #13; Dragonfly v2.5's blocklist): root sets it on the manager,
the cluster's running scheduler takes it with its next keepalive answer, and from then on the
tasks it names are refused -- to dfget with a one-line error, to containerd through the registry
mirror with a 403 -- and fetched from nowhere, neither from peers nor from the origin. Seed peers
follow their own rules."""

import os
import unittest

from cluster import Cluster, wait_for
from test_mirror import request

MIB = 1024 * 1024


class BlocklistTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-blocklist-")
        self.m = self.c.manager()
        self.origin = self.c.origin()
        self.sched = self.c.scheduler(
            f"manager:\n  addr: {self.m.grpc_addr}\n  keepAliveInterval: 1s\n")
        mirror = {"proxy": {"listen": "127.0.0.1:0", "registryMirror": {
            "nsScheme": "http", "addr": f"http://127.0.0.1:{self.origin.port}"}}}
        self.seed = self.c.daemon("seed-0", self.sched, seed=True, extra={
            **mirror, "manager": {"addrs": [self.m.grpc_addr], "keepAliveInterval": "1s"}})
        self.peer = self.c.daemon("peer-0", self.sched, extra=mirror)
        self.token = self.m.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def set_blocklist(self, blocklist):
        st, body, _ = self.m.request("PATCH", "/api/v1/clusters/1",
                                     {"scheduler_cluster_config": {"blocklist": blocklist}},
                                     token=self.token)
        self.assertEqual(st, 200, body)
        version = body["config_version"]
        wait_for(lambda: self.sched.metric("dragonfly_scheduler_config_version") == version,
                 timeout=15, what=f"the scheduler to apply config version {version}")
        return body

    def served(self, name, what="requests"):
        return sum(v for k, v in self.origin.stats()[what].items() if name in k)

    def test_blocked_tasks_are_refused_everywhere_and_fetched_from_nowhere(self):
        self.c.make_file("secret.bin", 2 * MIB)
        self.c.make_file("public.bin", 2 * MIB)
        ns = f"?ns=127.0.0.1:{self.origin.port}"
        secret_digest, _ = self.c.add_blob("secret/app", 3 * MIB)
        public_digest, public_data = self.c.add_blob("lib/app", 3 * MIB)
        secret_blob = f"/v2/secret/app/blobs/sha256:{secret_digest}{ns}"
        public_blob = f"/v2/lib/app/blobs/sha256:{public_digest}{ns}"
        body = self.set_blocklist({
            "client": {"task": {"urls": [r"/secret\.bin$", "/v2/secret/"], "tags": ["nightly"]}},
            "seed_client": {"task": {"applications": ["batch"]}}})
        self.assertEqual(body["scheduler_cluster_config"]["blocklist"]["client"]["task"]["tags"],
                         ["nightly"])

        # dfget: a clear one-line error, no file, and the origin never asked.
        out = os.path.join(self.c.dir, "secret.out")
        r = self.peer.dfget(self.origin.url("secret.bin"), out, check=False, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("blocked by the cluster's blocklist: url matches \"/secret\\.bin$\"",
                      r.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.served("secret.bin"), 0)
        # By tag: the same public file under the blocked tag is refused, without it it flows.
        r = self.peer.dfget(self.origin.url("public.bin"), out, "--tag", "nightly", check=False,
                            timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tag \"nightly\"", r.stderr)
        self.peer.dfget(self.origin.url("public.bin"), out)
        with open(out, "rb") as f, open(os.path.join(self.c.origin_root, "public.bin"), "rb") as g:
            self.assertEqual(f.read(), g.read())

        # containerd through the registry mirror: 403 for the blocked repository's layer.
        st, hdr, text = request(self.peer.proxy_port, "GET", secret_blob)
        self.assertEqual(st, 403, text)
        self.assertIn(b"blocklist", text)
        # (The mirror asks the registry whether this client may read the blob, with its own
        # credentials, before anything else: a HEAD, no content.)
        self.assertEqual(self.served("/v2/secret/", "bytes"), 0)
        st, _, data = request(self.peer.proxy_port, "GET", public_blob)
        self.assertEqual((st, data == public_data), (200, True))

        # Seed peers follow the seed rules: a preheat of the `batch` application fails on the
        # seed peer and says why; the client's URL rules do not stop the seed.
        def preheat(url, application=""):
            st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
                "type": "preheat", "args": {"type": "file", "url": url,
                                            "application": application}}, token=self.token)
            self.assertEqual(st, 200, job)
            return self.m.wait_job(job["id"], self.token)

        self.c.make_file("batch.bin", MIB)
        job = preheat(self.origin.url("batch.bin"), "batch")
        self.assertEqual(job["state"], "FAILURE", job)
        self.assertIn("application \"batch\"", str(job["result"]))
        self.assertEqual(self.served("batch.bin"), 0)
        self.assertEqual(preheat(self.origin.url("secret.bin"))["state"], "SUCCESS")

        # A bad rule is refused with the manager's message and changes nothing.
        version = self.sched.metric("dragonfly_scheduler_config_version")
        st, err, _ = self.m.request("PATCH", "/api/v1/clusters/1", {"scheduler_cluster_config": {
            "blocklist": {"client": {"task": {"urls": ["(unclosed"]}}}}}, token=self.token)
        self.assertEqual(st, 400)
        self.assertIn("blocklist.client.task.urls: bad regex", str(err))
        self.assertEqual(self.m.request("GET", "/api/v1/clusters/1", token=self.token)[1]
                         ["config_version"], version)

        # Lifting the rules lets the task through.
        self.set_blocklist({})
        self.peer.dfget(self.origin.url("secret.bin"), out)
        with open(out, "rb") as f, open(os.path.join(self.c.origin_root, "secret.bin"), "rb") as g:
            self.assertEqual(f.read(), g.read())


if __name__ == "__main__":
    unittest.main()
