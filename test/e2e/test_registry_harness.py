"""Self-test of registry.py without any Dragonfly process: a TLS + bearer-token docker-registry,
deterministic images pushed over the registry API, and containerd / skopeo pulling directly.

Run: cd test/e2e && python3 -m unittest -v test_registry_harness
"""

import base64
import json
import os
import shutil
import unittest
import urllib.parse

import registry as R

MiB = 1 << 20
NEEDED = [R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, R.SKOPEO_BIN, "runc", "openssl"]
MISSING = [p for p in NEEDED if not shutil.which(p)]


def _jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh)")
@unittest.skipIf(os.geteuid() != 0, "containerd needs root")
class RegistryHarnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = R.RegistryEnv(prefix="df-registry-selftest-")
        try:
            cls.tls = cls.env.tls()
            cls.tok = cls.env.token_server(users={"alice": "secret"})
            cls.reg = cls.env.registry(tls=cls.tls, token_server=cls.tok)
            cls.ctd = cls.env.containerd()
            # containerd talks to the registry directly: no mirror.
            cls.hosts = R.write_hosts_toml(cls.env.path("hosts.d"), cls.reg.host, cls.reg.url,
                                           ca=cls.reg.ca)
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        d = cls.env.dir
        problems = cls.env.stop()
        if problems:
            raise AssertionError("\n".join(problems))
        assert not os.path.exists(d), d
        assert not R.mounts_under(d)

    def pull(self, ref, **kw):
        r = self.ctd.pull(ref, self.hosts, **kw)
        return r

    def assert_pulled(self, r, what):
        self.assertEqual(r.returncode, 0, f"pull of {what} failed: {r.stderr}\n"
                         f"--- registry ---\n{self.reg.logs()[-3000:]}")

    # ----------------------------------------------------------------------------------------
    def test_pull_fetches_each_blob_once(self):
        img = R.push_image(self.reg, "dfly/test", "v1", layers=[1 * MiB, 8 * MiB, 2 * MiB],
                           seed=101)
        self.assertEqual(len(img["layer_digests"]), 3)
        self.assertEqual(img["index_digest"], None)
        # deterministic: the same seed and sizes give the same digests, and a re-push only
        # HEADs the blobs (no new uploads)
        def puts():
            return sum(1 for r in self.reg.requests() if r["method"] in ("PUT", "POST"))
        before = puts()
        again = R.push_image(self.reg, "dfly/test", "v1", layers=[1 * MiB, 8 * MiB, 2 * MiB],
                             seed=101)
        self.assertEqual(again["manifest_digest"], img["manifest_digest"])
        self.assertEqual(again["layer_digests"], img["layer_digests"])
        self.assertEqual(puts(), before + 1)  # only the manifest PUT

        r = self.pull(img["ref"])
        self.assert_pulled(r, img["ref"])
        self.ctd.verify(img)
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 1, d)
            self.assertEqual(self.reg.blob_gets(d, status=(200, 206)), 1, d)
        sizes = {r["path"].rsplit("/", 1)[1]: r["bytes"] for r in self.reg.requests()
                 if r["method"] == "GET" and "/blobs/" in r["path"]}
        for d, size in zip(img["layer_digests"], img["layer_sizes"]):
            self.assertEqual(sizes[d], size)
        # content already present: a second pull fetches no blob again
        r = self.pull(img["ref"])
        self.assert_pulled(r, img["ref"])
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 1, d)
        self.assertEqual(self.ctd.rm(img["ref"]).returncode, 0)
        self.assertNotIn(img["ref"], self.ctd.images())

    def test_pull_index_fetches_only_amd64(self):
        img = R.push_image(self.reg, "dfly/multi", "v1", layers=[1 * MiB, 2 * MiB], seed=102,
                           index=True)
        self.assertIsNotNone(img["index_digest"])
        self.assertEqual(img["top_digest"], img["index_digest"])
        arm = img["platforms"]["linux/arm64"]
        amd = img["platforms"]["linux/amd64"]
        self.assertEqual(amd["manifest_digest"], img["manifest_digest"])
        self.assertNotEqual(arm["config_digest"], amd["config_digest"])
        r = self.pull(img["ref"])
        self.assert_pulled(r, img["ref"])
        self.ctd.verify(img)
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 1, d)
        self.assertEqual(self.reg.blob_gets(arm["config_digest"]), 0)
        got = [r["path"] for r in self.reg.manifest_requests("GET")]
        self.assertIn(f"/v2/dfly/multi/manifests/{img['index_digest']}", got)
        self.assertIn(f"/v2/dfly/multi/manifests/{amd['manifest_digest']}", got)
        self.assertNotIn(f"/v2/dfly/multi/manifests/{arm['manifest_digest']}", got)

    def test_private_repository_needs_credentials(self):
        img = R.push_image(self.reg, "private/secret", "v1", layers=[1 * MiB], seed=103)
        n_tok = len(self.tok.requests)
        r = self.pull(img["ref"])
        self.assertNotEqual(r.returncode, 0, "anonymous pull of a private image succeeded")
        anon = [t for t in self.tok.requests[n_tok:] if t["user"] is None]
        self.assertTrue(anon, "containerd asked for no anonymous token")
        self.assertTrue(all(g["actions"] == [] for t in anon for g in t["granted"]), anon)
        r = self.pull(img["ref"], user="alice:wrong")
        self.assertNotEqual(r.returncode, 0, "pull with a wrong password succeeded")
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 0, d)

        n_tok = len(self.tok.requests)
        r = self.pull(img["ref"], user="alice:secret")
        self.assert_pulled(r, img["ref"])
        self.ctd.verify(img)
        posts = [t for t in self.tok.requests[n_tok:] if t["method"] == "POST"]
        self.assertTrue(posts, "ctr --user did not use the OAuth2 POST /token")
        self.assertEqual(posts[0]["grant_type"], "password")
        self.assertEqual(posts[0]["user"], "alice")
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d, status=200), 1, d)

    def test_token_server_protocol(self):
        base = self.tok.realm
        svc = self.tok.service

        def get(scope, creds=None, extra=""):
            q = urllib.parse.urlencode({"service": svc, "scope": scope}) + extra
            h = {}
            if creds:
                h["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
            return R.http_request("GET", f"{base}?{q}", headers=h)

        def post(form):
            body = urllib.parse.urlencode(form).encode()
            return R.http_request("POST", base, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": str(len(body))})

        status, _, body = get("repository:dfly/x:pull,push")
        self.assertEqual(status, 200)
        claims = _jwt_claims(json.loads(body)["token"])
        self.assertEqual(claims["access"], [{"type": "repository", "name": "dfly/x",
                                             "actions": ["pull"]}])
        self.assertEqual((claims["iss"], claims["aud"]), (self.tok.issuer, svc))
        status, _, body = get("repository:private/x:pull")
        self.assertEqual(_jwt_claims(json.loads(body)["token"])["access"][0]["actions"], [])
        status, _, body = get("repository:private/x:pull,push", "alice:secret",
                              "&offline_token=true")
        tok = json.loads(body)
        self.assertEqual(_jwt_claims(tok["token"])["access"][0]["actions"], ["pull", "push"])
        self.assertIn("refresh_token", tok)
        self.assertEqual(get("repository:dfly/x:pull", "alice:nope")[0], 401)

        status, _, body = post({"grant_type": "password", "username": "alice",
                                "password": "secret", "service": svc, "client_id": "t",
                                "scope": "repository:a/b:pull repository:private/c:pull"})
        self.assertEqual(status, 200)
        tok = json.loads(body)
        access = _jwt_claims(tok["access_token"])["access"]
        self.assertEqual([a["name"] for a in access], ["a/b", "private/c"])
        status, _, body = post({"grant_type": "refresh_token", "service": svc, "client_id": "t",
                                "refresh_token": tok["refresh_token"],
                                "scope": "repository:private/c:pull"})
        self.assertEqual(status, 200)
        self.assertEqual(_jwt_claims(json.loads(body)["access_token"])["sub"], "alice")
        self.assertEqual(post({"grant_type": "password", "username": "alice",
                               "password": "bad", "service": svc})[0], 401)
        self.assertEqual(post({"grant_type": "refresh_token", "refresh_token": "bogus",
                               "service": svc})[0], 401)

        # the registry accepts the tokens: a pull token fetches a manifest, none gets 401
        img = R.push_image(self.reg, "dfly/tok", "v1", layers=[MiB // 4], seed=104)
        anon = R.RegistryClient(self.reg.url, None, self.reg.ssl_context())
        mt, data = anon.get_manifest("dfly/tok", "v1")
        self.assertEqual(mt, R.OCI_MANIFEST)
        self.assertEqual(R._sha256(data), img["manifest_digest"])
        status, _, _ = R.http_request("GET", self.reg.url + "/v2/dfly/tok/manifests/v1",
                                      context=self.reg.ssl_context())
        self.assertEqual(status, 401)
        with self.assertRaises(RuntimeError):
            anon.get_manifest("private/secret", "v1")

    def test_skopeo_copy_direct(self):
        img = R.push_image(self.reg, "dfly/skopeo", "v1", layers=[1 * MiB, MiB // 2], seed=105)
        conf = R.write_registries_conf(self.env.path("registries.conf"), self.reg.host)
        out = self.env.path("skopeo-out")
        r = R.skopeo_copy(img["ref"].split("/", 1)[0] + "/dfly/skopeo:v1", out,
                          registries_conf=conf, cert_dir=self.tls.ca_dir, dest_tag="v1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(set(img["blobs"]) <= R.oci_layout_blobs(out))
        for d in img["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 1, d)
        # with credentials (token flow with Basic auth on GET /token)
        img2 = R.push_image(self.reg, "private/skopeo", "v1", layers=[MiB // 2], seed=106)
        r = R.skopeo_copy(img2["ref"], out, registries_conf=conf, cert_dir=self.tls.ca_dir,
                          dest_tag="p1")
        self.assertNotEqual(r.returncode, 0)
        r = R.skopeo_copy(img2["ref"], out, registries_conf=conf, cert_dir=self.tls.ca_dir,
                          creds="alice:secret", dest_tag="p1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(set(img2["blobs"]) <= R.oci_layout_blobs(out))


if __name__ == "__main__":
    unittest.main()
