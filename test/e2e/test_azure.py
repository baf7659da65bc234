"""abs:// origins (issue #15) against Azurite, Microsoft's Azure Blob emulator, which checks
Shared Key and SAS signatures (test/servers/azure.js): the object-store checks of
object_store_cases.py with the account's Shared Key, and a daemon that has only a SAS."""

import hashlib
import os
import unittest

from cluster import sha256_file
from object_store import AZURITE_READY, NODE, AzureServer
from object_store_cases import ObjectStoreCases

WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="


@unittest.skipUnless(NODE and AZURITE_READY,
                     "needs node and `npm ci` in test/servers (the project's build does it)")
class AzureTest(ObjectStoreCases, unittest.TestCase):
    scheme, container = "abs", "models"
    denied, missing = "AuthorizationFailure", "BlobNotFound"

    def make_store(self):
        return self.c.add(AzureServer(self.c.dir))

    def backend(self, bad=False, keys=True):
        config = self.store.backend_config(key=WRONG_KEY if bad else None)
        if not keys:
            del config["accountKey"]
        return {"azure": config}

    def credential_flags(self):
        return ["--storage-access-key-id", AzureServer.ACCOUNT,
                "--storage-access-key-secret", AzureServer.KEY]

    def secrets(self):
        return [AzureServer.KEY, WRONG_KEY]

    def object_path(self, key):
        return f"/{AzureServer.ACCOUNT}/{self.container}/{key}"

    def is_listing(self, request):
        return "comp=list" in request["url"]

    def test_a_sas_alone_downloads_and_lists_and_stays_out_of_logs(self):
        sas = self.store.sas(self.container, "rl")
        sig = [kv.split("=", 1)[1] for kv in sas.split("&") if kv.startswith("sig=")][0]
        data = {f"shard-{i}.bin": os.urandom(300_000 + i) for i in range(3)}
        for name, body in data.items():
            self.store.put(self.container, "sas/" + name, body)
        host = self.c.daemon("host", extra={"backSource": {"azure": self.store.backend_config(
            sas=sas)}})
        one = os.path.join(self.c.dir, "one.bin")
        host.dfget(self.url("sas/shard-0.bin"), one)
        self.assertEqual(sha256_file(one), hashlib.sha256(data["shard-0.bin"]).hexdigest())
        out = os.path.join(self.c.dir, "sas")
        r = host.dfget(self.url("sas/"), out, "-r")
        self.assertIn("3 objects:", r.stderr)
        for name, body in data.items():
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(), body, name)
        self.assertNotIn(sig, host.logs())
        # A SAS without the list permission: the listing's error says so.
        weak = self.c.daemon("weak", extra={"backSource": {"azure": self.store.backend_config(
            sas=self.store.sas(self.container, "r"))}})
        r = weak.dfget(self.url("sas/"), os.path.join(self.c.dir, "weak"), "-r", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("AuthorizationPermissionMismatch", r.stderr)


if __name__ == "__main__":
    unittest.main()
