"""s3:// origins (issue #15) against a real S3-compatible server that verifies AWS Signature V4
(test/servers/s3.js): the object-store checks of object_store_cases.py."""

import hashlib
import os
import unittest

from cluster import sha256_file
from object_store import NODE, S3_READY, S3Server
from object_store_cases import ObjectStoreCases


@unittest.skipUnless(NODE and S3_READY,
                     "needs node and `npm ci` in test/servers (the project's build does it)")
class S3Test(ObjectStoreCases, unittest.TestCase):
    scheme, container = "s3", "models"
    denied, missing = "SignatureDoesNotMatch", "NoSuchKey"
    anonymous_denied = False  # s3rver serves unsigned reads of any bucket

    def make_store(self):
        return self.c.add(S3Server(self.c.dir))

    def backend(self, bad=False, keys=True):
        config = self.store.backend_config(secret="not-the-secret" if bad else None)
        if not keys:
            del config["accessKeyID"], config["secretAccessKey"]
        return {"s3": config}

    def credential_flags(self):
        return ["--storage-access-key-id", self.store.access_key,
                "--storage-access-key-secret", self.store.secret]

    def secrets(self):
        return [self.store.secret, "not-the-secret"]

    def object_path(self, key):
        return f"/{self.container}/{key}"

    def is_listing(self, request):
        return "list-type=2" in request["url"]

    def test_the_manager_preheats_an_object_onto_the_seed_peer(self):
        data = os.urandom(5 * (1 << 20) + 3)
        self.store.put("models", "preheat/w.bin", data)
        m = self.c.manager()
        sched = self.c.scheduler(f"manager:\n  addr: {m.grpc_addr}\n  keepAliveInterval: 1s\n")
        backend = self.backend()
        self.c.daemon("seed-0", sched, seed=True, extra={
            "backSource": backend, "manager": {"addrs": [m.grpc_addr], "keepAliveInterval": "1s"}})
        host = self.c.daemon("host-0", sched, extra={"backSource": backend})
        token = m.signin()
        st, job, _ = m.request("POST", "/oapi/v1/jobs", {"type": "preheat", "args": {
            "type": "file", "url": "s3://models/preheat/w.bin"}}, token=token)
        self.assertEqual(st, 200, job)
        self.assertEqual(m.wait_job(job["id"], token)["state"], "SUCCESS")
        self.assertEqual(len(self.store.requests("GET", "/models/preheat/w.bin")), 1)
        out = os.path.join(self.c.dir, "w.bin")
        host.dfget("s3://models/preheat/w.bin", out)
        self.assertEqual(sha256_file(out), hashlib.sha256(data).hexdigest())
        self.assertEqual(len(self.store.requests("GET", "/models/preheat/w.bin")), 1)
        # A URL of no scheme the seed peers fetch is refused with the manager's message.
        st, err, _ = m.request("POST", "/oapi/v1/jobs", {"type": "preheat", "args": {
            "type": "file", "url": "ftp://h/x"}}, token=token)
        self.assertEqual(st, 400, err)
        self.assertIn("s3://, abs:// or hf://", str(err))


if __name__ == "__main__":
    unittest.main()
