"""s3:// origins (issue #15) against a real S3-compatible server that verifies AWS Signature V4
(test/servers/s3.js): the object-store checks of object_store_cases.py."""

import unittest

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


if __name__ == "__main__":
    unittest.main()
