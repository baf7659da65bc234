"""The web console (issue #13): built by the project's build (console/), served by the manager
on its REST port, and driven in a real browser (Debian's chromium via playwright-core,
test/browser/console.mjs)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import unittest
import urllib.request

from cluster import BIN, ROOT, Cluster, hostport, sha256_file, wait_for

CONSOLE_DIR = os.path.join(os.path.dirname(BIN), "console")
BROWSER_DIR = os.path.join(ROOT, "test", "browser")


class ConsoleTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(os.path.join(CONSOLE_DIR, "index.html")):
            self.skipTest(f"the console is not built in {CONSOLE_DIR} (DF_CONSOLE=OFF)")
        self.c = Cluster(prefix="df-console-")
        self.m = self.c.manager(extra={"auth": {"allowSignUp": True}})

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def get(self, path):
        """(status, body bytes, headers) of a GET without credentials."""
        req = urllib.request.Request(f"http://{hostport(self.m.rest_port)}{path}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def test_openapi_lists_what_is_routed_and_every_route_the_console_calls(self):
        st, doc, _ = self.m.request("GET", "/openapi.json")
        self.assertEqual(st, 200)

        def shape(path):  # /api/v1/users/{id} and /api/v1/users/${u.id} alike
            return re.sub(r"\$?\{[^}]*\}", "{}", path)

        documented = {(m.upper(), shape(p)) for p, ops in doc["paths"].items() for m in ops}
        self.assertGreater(len(documented), 30)
        # Each documented route is routed: without credentials it is refused, not missing.
        for method, path in sorted(documented):
            ops = doc["paths"][next(p for p in doc["paths"] if shape(p) == path)]
            if "security" not in ops[method.lower()]:
                continue
            st, _, _ = self.m.request(method, path.replace("{}", "1"),
                                      {} if method in ("POST", "PATCH") else None)
            self.assertEqual(st, 401, f"{method} {path}")
        # Each call in the console's API client is documented (so it exists).
        with open(os.path.join(ROOT, "console", "src", "api.ts")) as f:
            source = f.read()
        calls = re.findall(r'request(?:WithHeaders)?(?:<[^(]*>)?\(\s*"([A-Z]+)",\s*[`"]([^`"?]+)', source)
        self.assertGreaterEqual(len(calls), 4)
        for method, path in calls:
            self.assertIn((method, shape(path)), documented, f"the console calls {method} {path}")

    def test_the_manager_serves_the_console_beside_its_api(self):
        st, body, h = self.get("/")
        self.assertEqual(st, 200)
        self.assertIn(b'<div id="app">', body)
        self.assertTrue(h["Content-Type"].startswith("text/html"))
        self.assertEqual(h["Cache-Control"], "no-cache")
        self.assertIn("frame-ancestors 'none'", h["Content-Security-Policy"])
        # The app's script, by the hashed name index.html gives it, cached for good.
        script = body.split(b'src="')[1].split(b'"')[0].decode()
        self.assertTrue(script.startswith("/assets/"), script)
        st, js, h = self.get(script)
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("text/javascript"))
        self.assertIn("immutable", h["Cache-Control"])
        self.assertIn(b"/api/v1/users/signin", js)
        # A route of the app (deep link) is the app; the API keeps its own answers.
        st, deep, _ = self.get("/clusters/1")
        self.assertEqual((st, deep), (200, body))
        self.assertEqual(self.get("/api/v1/no-such-thing")[0], 404)
        st, _, _ = self.m.request("POST", "/no-such-endpoint", {})
        self.assertEqual(st, 404)
        self.assertEqual(self.m.request("DELETE", "/api/v1/users/signin")[0], 405)
        self.assertEqual(self.get("/api/v1/clusters")[0], 401)
        # Nothing outside the console's directory, however the path is spelt.
        for path in ["/assets/../../manager/manager.yaml", "/assets/%2e%2e/%2e%2e/etc/passwd",
                     "/../../etc/passwd", "/assets/../index.html/../../../etc/hostname"]:
            st, got, _ = self.get(path)
            self.assertNotIn(b"root:", got, path)
            self.assertNotIn(b"rootPassword", got, path)
            self.assertIn(st, (200, 400, 404), path)
            if st == 200:
                self.assertEqual(got, body, path)  # the app, not a file

    def test_an_operator_signs_in_and_sees_the_clusters_in_a_browser(self):
        chromium = shutil.which("chromium")
        if not chromium or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")):
            self.skipTest("needs Debian's chromium and `npm ci` in test/browser "
                          "(scripts/install-deps.sh and the project's build do both)")
        # A scheduler and a seed peer registered with the manager (the default cluster's).
        sched = self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n  keepAliveInterval: 1s\n")
        self.c.daemon("seed-0", sched, seed=True,
                      extra={"manager": {"addrs": [self.m.grpc_addr], "keepAliveInterval": "1s"}})
        peers = []
        for i in range(4):  # four peers, which the manager learns of when they ask for schedulers
            peers.append(self.c.daemon(
                f"peer-{i}", sched,
                extra={"manager": {"addrs": [self.m.grpc_addr], "refreshInterval": "1s"}}))
        origin = self.c.origin()
        self.c.make_file("weights.bin", 3 * 1024 * 1024)
        # For the live swarm view: 64 MiB that the origin serves at 4 MiB/s (~16 s).
        layer = sha256_file(self.c.make_file("layer.bin", 64 * 1024 * 1024))
        layer_url = origin.url("layer.bin") + f"?slow={4 * 1024 * 1024}"
        pulls = []
        token = self.m.signin()
        # An image in the origin (a registry's paths): a config blob and one layer.
        blobs = []
        for name, media, data in (
                ("config", "application/vnd.oci.image.config.v1+json", b'{"architecture":"amd64"}'),
                ("layer", "application/vnd.oci.image.layer.v1.tar+gzip", os.urandom(512 * 1024))):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            os.makedirs(os.path.join(self.c.origin_root, "v2", "demo", "app", "blobs"), exist_ok=True)
            with open(os.path.join(self.c.origin_root, "v2", "demo", "app", "blobs", digest), "wb") as f:
                f.write(data)
            blobs.append({"mediaType": media, "digest": digest, "size": len(data)})
        manifest = json.dumps({"schemaVersion": 2,
                               "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": blobs[0], "layers": blobs[1:]}).encode()
        os.makedirs(os.path.join(self.c.origin_root, "v2", "demo", "app", "manifests"))
        with open(os.path.join(self.c.origin_root, "v2", "demo", "app", "manifests", "v1"), "wb") as f:
            f.write(manifest)
        image_url = origin.url("v2/demo/app/manifests/v1")

        def active(kind):
            return self.m.request("GET", f"/api/v1/{kind}?state=active", token=token)[1]

        wait_for(lambda: active("schedulers") and active("seed-peers") and len(active("peers")) == 4,
                 what="the scheduler, the seed peer and four peers known to the manager")
        node = subprocess.Popen(
            ["node", os.path.join(BROWSER_DIR, "console.mjs"),
             f"http://{hostport(self.m.rest_port)}/", self.m.root_password,
             active("schedulers")[0]["host_name"], active("seed-peers")[0]["host_name"],
             origin.url("weights.bin"), image_url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=BROWSER_DIR,
            # DF_CONSOLE_SCREENSHOTS=docs/console refreshes the pictures in docs/console.md.
            env={**os.environ, "SCREENSHOTS": os.environ.get("DF_CONSOLE_SCREENSHOTS", "")})
        watchdog = threading.Timer(240, node.kill)
        watchdog.start()
        out = []
        try:
            for line in node.stdout:
                out.append(line)
                if not line.startswith("step: "):
                    continue
                what = line.split()[1:]
                answer = "ok"
                try:
                    if what[0] == "config-saved":
                        version, limit = int(what[1]), int(what[2])
                        wait_for(lambda: sched.metric("dragonfly_scheduler_config_version")
                                 == version, timeout=15, what=f"config version {version}")
                        self.assertEqual(
                            sched.metric("dragonfly_scheduler_candidate_parent_limit"), limit)
                    elif what[0] == "blocklist-saved":
                        version = int(what[1])
                        wait_for(lambda: sched.metric("dragonfly_scheduler_config_version")
                                 == version, timeout=15, what=f"config version {version}")
                        self.c.make_file("blocked.bin", 1024 * 1024)
                        r = peers[0].dfget(origin.url("blocked.bin"),
                                           os.path.join(self.c.dir, "blocked.out"), check=False)
                        self.assertNotEqual(r.returncode, 0)
                        self.assertIn("blocked by the cluster's blocklist", r.stderr)
                    elif what[0] == "image-preheated":
                        st, job, _ = self.m.request("POST", "/api/v1/jobs", {
                            "type": "preheat", "args": {"type": "image", "url": image_url,
                                                        "scope": "all_seed_peers"}}, token=token)
                        self.assertEqual(st, 200, job)
                        job = self.m.wait_job(job["id"], token, prefix="/api/v1/jobs")
                        self.assertEqual(job["state"], "SUCCESS", job)
                    elif what[0] == "kill-scheduler":
                        sched.kill(signal.SIGKILL)
                    elif what[0] == "start-download":  # the four peers pull one layer at once
                        pulls = [p.dfget_async(layer_url, os.path.join(self.c.dir, "out-" + p.name))
                                 for p in peers]
                    elif what[0] == "downloads-done":
                        for p, pull in zip(peers, pulls):
                            _, err = pull.communicate(timeout=120)
                            self.assertEqual(pull.returncode, 0, err)
                            self.assertEqual(sha256_file(os.path.join(self.c.dir, "out-" + p.name)), layer)
                    elif what[0] == "cache-imported":
                        answer = "ok " + self.import_to_cache(peers[0], token)
                    elif what[0] == "cache-deleted":
                        r = subprocess.run([os.path.join(BIN, "dfcache"), "-e", peers[1].socket,
                                            "export", what[1], "-O",
                                            os.path.join(self.c.dir, "cache.out")],
                                           capture_output=True, text=True, timeout=60)
                        self.assertNotEqual(r.returncode, 0)
                        self.assertIn("not in the cluster", r.stderr)
                    elif what[0] in ("use-token", "token-refused"):  # as a script would
                        jobs_url = f"http://{hostport(self.m.rest_port)}/oapi/v1/jobs"
                        r = subprocess.run(
                            ["curl", "-sS", "-w", "\n%{http_code}", "-H",
                             f"Authorization: Bearer {what[1]}", jobs_url],
                            capture_output=True, text=True, timeout=30)
                        body, _, code = r.stdout.rpartition("\n")
                        if what[0] == "use-token":
                            self.assertEqual(code, "200", body)
                            self.assertTrue(json.loads(body), "the preheat job is listed")
                        else:
                            self.assertEqual(code, "401", body)
                    elif what[0] == "signin":
                        st, body, _ = self.m.request("POST", "/api/v1/users/signin",
                                                     {"name": what[1], "password": what[2]})
                        self.assertEqual(st, 200, body)
                    if what[0] == "end-session":
                        users = self.m.request("GET", "/api/v1/users", token=token)[1]
                        root = next(u for u in users if u["name"] == "root")
                        st, body, _ = self.m.request(
                            "POST", f"/api/v1/users/{root['id']}/reset_password",
                            {"new_password": "a-new-root-password"}, token=token)
                        self.assertEqual(st, 200, body)
                        answer = "ok a-new-root-password"
                except Exception as e:  # told to the script, which fails and says why
                    answer = f"{type(e).__name__}: {e}".replace("\n", " ")
                node.stdin.write(answer + "\n")
                node.stdin.flush()
            node.wait()
        finally:
            watchdog.cancel()
            node.kill()
            node.stdin.close()
            node.stdout.close()
        text = "".join(out)
        self.assertEqual(node.returncode, 0, text)
        for shown in ("root sees the clusters", "the registered scheduler is listed as active",
                      "the running scheduler took the new config",
                      "a download the blocklist names is refused",
                      "a bad regex is refused with the manager's message",
                      "root deletes the inactive scheduler",
                      "the preheat reaches SUCCESS on its page without a reload",
                      "the task is deleted on every host",
                      "the seed peer holds each blob of the preheated image",
                      "the swarm view shows pieces flowing between peers",
                      "the swarm view follows the download to completion",
                      "the persistent cache lists the imported task, ready with 2 of 2 replicas",
                      "a delete asks first and can be taken back",
                      "the deleted task can no longer be exported",
                      "the new token lists the jobs on /oapi/v1/jobs", "the revoked token is refused",
                      "a guest is refused the users page",
                      "a guest changes their password and stays signed in",
                      "a sign-up makes a guest and signs them in",
                      "Tab reaches the menu", "the focused link shows a focus ring",
                      "the swarm page fits a 420 px window", "the cache page fits a 420 px window", "the cluster page fits a 420 px window",
                      "the job-new page fits a 420 px window", "no console errors"):
            self.assertIn(f"ok: {shown}", text)

    def import_to_cache(self, host, token):
        """Imports 3 MiB with dfcache on `host` (two replicas) and waits until the manager lists
        both holders; returns the task ID."""
        path = self.c.make_file("cached.bin", 3 * 1024 * 1024)
        r = subprocess.run([os.path.join(BIN, "dfcache"), "-e", host.socket, "import", path,
                            "--replicas", "2", "--ttl", "1h", "--application", "train",
                            "--tag", "v1"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        task_id = r.stdout.strip()

        def listed():
            return [t for t in self.m.request("GET", "/api/v1/persistent-cache-tasks",
                                              token=token)[1]
                    if t["task_id"] == task_id and len(t["holders"]) == 2]
        wait_for(listed, timeout=60, what="the manager to list the cache task with two holders")
        return task_id


if __name__ == "__main__":
    unittest.main()
