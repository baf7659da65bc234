"""Image resolution for the manager's image preheat (ResolveImage, through the registry_resolve
test tool) against a real docker-registry: TLS with a self-signed CA, a bearer-token server, OCI and
Docker schema 2 images, multi-arch indexes and single manifests; plus a plain-http registry
without auth.

Every returned blob is fetched from the registry with the returned headers and hashed.

Run: cd test/e2e && DF_TESTS_DIR=../../build/tests python3 -m unittest -v test_registry_resolve
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import unittest

import registry as R

KiB = 1 << 10
MiB = 1 << 20
TESTS_DIR = os.environ.get(
    "DF_TESTS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/tests"))
TOOL = os.path.join(TESTS_DIR, "registry_resolve")
MISSING = [p for p in (R.REGISTRY_BIN, "openssl") if not shutil.which(p)]
if not os.access(TOOL, os.X_OK):
    MISSING.append(TOOL)

USER, PASSWORD = "alice", "s3cret-pw"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh, build tests)")
class RegistryResolveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = R.RegistryEnv(prefix="df-registry-resolve-")
        try:
            cls.tls = cls.env.tls()
            cls.tok = cls.env.token_server(users={USER: PASSWORD})
            cls.reg = cls.env.registry(tls=cls.tls, token_server=cls.tok)
            cls.plain = cls.env.registry(name="plain-registry")
            # The token server grants anonymous pull on every repository but private/*.
            cls.oci_index = R.push_image(cls.reg, "dfly/multi-oci", "v1",
                                         layers=[300 * KiB, 1 * MiB], seed=11, index=True,
                                         fmt="oci")
            cls.docker_list = R.push_image(cls.reg, "private/multi-docker", "v2",
                                           layers=[200 * KiB, 64 * KiB, 1 * MiB], seed=12,
                                           index=True, fmt="docker")
            cls.single = R.push_image(cls.reg, "private/single", "v1",
                                      layers=[100 * KiB, 2 * MiB], seed=13, fmt="docker")
            cls.plain_image = R.push_image(cls.plain, "dfly/plain", "latest",
                                           layers=[50 * KiB], seed=14)
        except BaseException:
            cls.env.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.env.stop()
        if problems:
            raise AssertionError("\n".join(problems))

    # ----------------------------------------------------------------------------------------
    def run_tool(self, url, *args, ca=True):
        argv = [TOOL, "--url", url, "--timeout", "60"]
        if ca:
            argv += ["--ca-cert", self.reg.ca]
        return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def url(self, name, ref, reg=None):
        return f"{(reg or self.reg).url}/v2/{name}/manifests/{ref}"

    def resolve(self, url, *args, **kw):
        r = self.run_tool(url, *args, **kw)
        self.assertEqual(r.returncode, 0, f"registry_resolve {url} {args} failed: {r.stderr}")
        return json.loads(r.stdout)

    def resolve_fails(self, url, *args, **kw):
        r = self.run_tool(url, *args, **kw)
        self.assertNotEqual(r.returncode, 0, f"expected a failure, got {r.stdout}")
        self.assertEqual(r.stdout, "")
        err = r.stderr.strip()
        self.assertEqual(len(err.splitlines()), 1, f"error is not one line: {r.stderr!r}")
        self.assertTrue(err.startswith("registry_resolve: "), err)
        return err

    def fetch(self, url, headers, reg=None):
        status, _, data = R.http_request("GET", url, headers=dict(headers),
                                         context=(reg or self.reg).ssl_context())
        self.assertEqual(status, 200, f"GET {url} -> {status}: {data[:300]!r}")
        return data

    def assert_image(self, out, img, platform="linux/amd64", reg=None):
        """`out` lists exactly the blobs push_image reported for `platform` (config first, then
        the layers in order), each blob fetched with out's headers hashes to its digest."""
        reg = reg or self.reg
        manifest_mt, _, config_mt, layer_mt = R.MEDIA_TYPES[
            "docker" if img["manifest_media_type"] == R.DOCKER_MANIFEST else "oci"]
        if img["index_digest"]:
            p = img["platforms"][platform]
            config_digest, config_size = p["config_digest"], p["config_size"]
            self.assertEqual(out["manifest_digest"], p["manifest_digest"])
            self.assertEqual(out["index_digest"], img["index_digest"])
        else:
            config_digest, config_size = img["config_digest"], None
            self.assertEqual(out["manifest_digest"], img["manifest_digest"])
            self.assertEqual(out["index_digest"], "")
        self.assertEqual(out["manifest_media_type"], manifest_mt)
        blobs = out["blobs"]
        self.assertEqual([b["digest"] for b in blobs], [config_digest] + img["layer_digests"])
        if config_size is not None:
            self.assertEqual(blobs[0]["size"], config_size)
        self.assertEqual([b["size"] for b in blobs[1:]], img["layer_sizes"])
        self.assertEqual([b["media_type"] for b in blobs],
                         [config_mt] + [layer_mt] * len(img["layer_digests"]))
        for b in blobs:
            self.assertEqual(b["url"], f"{reg.url}/v2/{img['name']}/blobs/{b['digest']}")
            data = self.fetch(b["url"], out["headers"], reg)
            self.assertEqual(len(data), b["size"], b["url"])
            self.assertEqual(R._sha256(data), b["digest"], b["url"])

    def headers(self, out):
        return dict(out["headers"])

    # ----------------------------------------------------------------------------------------
    def test_oci_index_each_platform(self):
        img = self.oci_index
        for platform in ("linux/amd64", "linux/arm64"):
            with self.subTest(platform=platform):
                out = self.resolve(self.url(img["name"], "v1"), "--platform", platform,
                                   "--username", USER, "--password", PASSWORD)
                self.assert_image(out, img, platform)
                self.assertTrue(self.headers(out)["Authorization"].startswith("Bearer "))
                self.assertGreater(out["token_expires_in_s"], 0)
        amd = self.resolve(self.url(img["name"], "v1"))
        arm = self.resolve(self.url(img["name"], "v1"), "--platform", "linux/arm64/v8")
        self.assertNotEqual(amd["blobs"][0]["digest"], arm["blobs"][0]["digest"])
        self.assertEqual(amd["blobs"][1:], arm["blobs"][1:])

    def test_public_repository_anonymously(self):
        img = self.oci_index
        n = len(self.tok.requests)
        out = self.resolve(self.url(img["name"], "v1"))  # default platform linux/amd64
        self.assert_image(out, img)
        anon = [r for r in self.tok.requests[n:] if r["status"] == 200]
        self.assertTrue(anon and all(r["user"] is None for r in anon), self.tok.requests[n:])

    def test_docker_manifest_list_with_username_password(self):
        img = self.docker_list
        n = len(self.tok.requests)
        out = self.resolve(self.url(img["name"], "v2"), "--platform", "linux/arm64",
                           "--username", USER, "--password", PASSWORD)
        self.assert_image(out, img, "linux/arm64")
        granted = [r for r in self.tok.requests[n:] if r["status"] == 200]
        self.assertEqual([r["user"] for r in granted], [USER])
        self.assertEqual(granted[0]["scopes"], ["repository:private/multi-docker:pull"])
        self.assertEqual(granted[0]["granted"][0]["actions"], ["pull"])

    def test_single_manifest_with_username_password(self):
        out = self.resolve(self.url(self.single["name"], "v1"), "--username", USER,
                           "--password", PASSWORD)
        self.assert_image(out, self.single)

    def test_basic_authorization_header(self):
        out = self.resolve(self.url(self.single["name"], "v1"),
                           "--header", f"Authorization: {basic(USER, PASSWORD)}",
                           "--header", "X-Preheat: yes")
        self.assert_image(out, self.single)
        h = self.headers(out)
        self.assertTrue(h["Authorization"].startswith("Bearer "), h)
        self.assertEqual(h["X-Preheat"], "yes")

    def test_bearer_authorization_header_is_used_as_is(self):
        # What Harbor does: it sends a token it got for the repository.
        token = self.headers(self.resolve(self.url(self.single["name"], "v1"), "--username",
                                          USER, "--password", PASSWORD))["Authorization"]
        n = len(self.tok.requests)
        out = self.resolve(self.url(self.single["name"], "v1"), "--header",
                           f"Authorization: {token}")
        self.assertEqual(len(self.tok.requests), n, "a valid token must not be replaced")
        self.assertEqual(self.headers(out)["Authorization"], token)
        self.assert_image(out, self.single)

    def test_wrong_password(self):
        err = self.resolve_fails(self.url(self.single["name"], "v1"), "--username", USER,
                                 "--password", "not-the-password")
        self.assertIn("UNAUTHENTICATED", err)
        self.assertIn("401", err)
        self.assertIn("invalid username or password", err)
        self.assertIn(f'user "{USER}"', err)
        self.assertNotIn("not-the-password", err)
        err = self.resolve_fails(self.url(self.single["name"], "v1"), "--header",
                                 f"Authorization: {basic(USER, 'nope')}")
        self.assertIn("UNAUTHENTICATED", err)
        self.assertNotIn(basic(USER, "nope").split()[1], err)

    def test_private_repository_without_credentials(self):
        err = self.resolve_fails(self.url(self.single["name"], "v1"))
        self.assertIn("UNAUTHENTICATED", err)
        self.assertIn("401", err)
        self.assertIn("no credentials given", err)

    def test_unknown_tag_and_digest(self):
        err = self.resolve_fails(self.url(self.single["name"], "nope"), "--username", USER,
                                 "--password", PASSWORD)
        self.assertIn("NOT_FOUND", err)
        self.assertIn("404", err)
        self.assertIn("MANIFEST_UNKNOWN", err)
        missing = "sha256:" + hashlib.sha256(b"no such manifest").hexdigest()
        err = self.resolve_fails(self.url(self.oci_index["name"], missing))
        self.assertIn("NOT_FOUND", err)
        err = self.resolve_fails(self.url("dfly/no-such-repo", "v1"))
        self.assertIn("NOT_FOUND", err)

    def test_unknown_platform(self):
        err = self.resolve_fails(self.url(self.oci_index["name"], "v1"), "--platform",
                                 "linux/s390x")
        self.assertIn("NOT_FOUND", err)
        self.assertIn("linux/s390x", err)
        self.assertIn("available: linux/amd64, linux/arm64", err)
        err = self.resolve_fails(self.url(self.oci_index["name"], "v1"), "--platform", "amd64")
        self.assertIn("INVALID_ARGUMENT", err)
        self.assertIn("os/arch[/variant]", err)

    def test_by_digest(self):
        img = self.docker_list
        creds = ("--username", USER, "--password", PASSWORD)
        by_index = self.resolve(self.url(img["name"], img["index_digest"]), *creds)
        self.assert_image(by_index, img)
        p = img["platforms"]["linux/arm64"]
        by_manifest = self.resolve(self.url(img["name"], p["manifest_digest"]), *creds)
        self.assertEqual(by_manifest["manifest_digest"], p["manifest_digest"])
        self.assertEqual(by_manifest["index_digest"], "")
        self.assertEqual(by_manifest["blobs"][0]["digest"], p["config_digest"])
        single = self.resolve(self.url(self.single["name"], self.single["manifest_digest"]),
                              *creds)
        self.assert_image(single, self.single)

    def test_tls_verification(self):
        url = self.url(self.oci_index["name"], "v1")
        err = self.resolve_fails(url, ca=False)
        self.assertIn("UNAVAILABLE", err)
        self.assertIn("certificate", err.lower())
        out = self.resolve(url, "--insecure", ca=False)
        self.assert_image(out, self.oci_index)

    def test_plain_http_registry_without_auth(self):
        img = self.plain_image
        out = self.resolve(self.url(img["name"], "latest", self.plain), ca=False)
        self.assertEqual(out["headers"], [])
        self.assert_image(out, img, reg=self.plain)

    def test_bad_urls(self):
        for url, why in [
                (f"ftp://{self.reg.host}/v2/dfly/multi-oci/manifests/v1", "only http and https"),
                (f"{self.reg.url}/v2/dfly/multi-oci/blobs/v1", "/manifests/"),
                (f"{self.reg.url}/v2/Dfly/manifests/v1", "bad repository name"),
                (f"https://{USER}:{PASSWORD}@{self.reg.host}/v2/dfly/multi-oci/manifests/v1",
                 "credentials in the URL")]:
            with self.subTest(url=url):
                err = self.resolve_fails(url)
                self.assertIn("INVALID_ARGUMENT", err)
                self.assertIn(why, err)
                self.assertNotIn(PASSWORD, err)


if __name__ == "__main__":
    unittest.main()
