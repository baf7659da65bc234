"""Manager image preheat against a real registry (docker-registry over TLS with bearer tokens,
a multi-arch index) and Harbor's two preheat request sequences, replayed as Harbor sends them.
Then a real containerd pull through a dfdaemon mirror must not ask the registry for any blob."""

import os
import shutil
import subprocess
import unittest

import registry as R
from cluster import BIN, wait_for

MIB = 1 << 20
NEEDED = [R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, "runc", "openssl"]
MISSING = [p for p in NEEDED if not shutil.which(p)]


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh)")
@unittest.skipIf(os.geteuid() != 0, "containerd needs root")
class ManagerRegistryTest(R.ClusterWithRegistryTest):
    PREFIX = "df-manager-registry-"

    @classmethod
    def start_processes(cls):
        cls.tls = cls.env.tls()
        cls.tok = cls.env.token_server(users={"alice": "secret"})
        cls.reg = cls.env.registry(tls=cls.tls, token_server=cls.tok)
        cls.m = cls.c.manager(extra={"job": {"registryCACert": cls.reg.ca}})
        sched = cls.c.scheduler(f"manager:\n  addr: {cls.m.grpc_addr}\n"
                                "  keepAliveInterval: 1s\n")
        proxy = {"listen": "127.0.0.1:0", "registryMirror": {"addr": cls.reg.url},
                 "registries": [{"host": cls.reg.host, "caCert": cls.reg.ca}]}
        manager = {"addrs": [cls.m.grpc_addr], "keepAliveInterval": "1s"}
        cls.seeds = [cls.c.daemon(f"seed-{i}", sched, seed=True,
                                  extra={"proxy": proxy, "manager": manager})
                     for i in range(2)]
        # The host asks the manager for schedulers, so the manager knows it (image distribution).
        cls.host = cls.c.daemon("host", sched, extra={
            "proxy": proxy, "manager": {"addrs": [cls.m.grpc_addr], "refreshInterval": "1s"}})
        cls.ctd = cls.env.containerd("containerd")
        cls.root = cls.m.signin()
        wait_for(lambda: len(cls.m.request("GET", "/api/v1/seed-peers?state=active",
                                           token=cls.root)[1]) == 2,
                 timeout=30, what="two seed peers registered")
        st, t, _ = cls.m.request("POST", "/api/v1/personal-access-tokens",
                                 {"name": "harbor", "scopes": ["job"]}, token=cls.root)
        assert st == 200, t
        cls.pat = t["token"]

    def manifest_url(self, name, ref):
        return f"{self.reg.url}/v2/{name}/manifests/{ref}"

    def robot_token(self, name):
        token, _ = self.tok.issue("alice", [f"repository:{name}:pull"])
        return token

    def distribution(self, name, ref):
        """get_image_distribution: {hostname: {layer digest: done}} and the image's layers."""
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "get_image_distribution",
            "args": {"url": self.manifest_url(name, ref), "username": "alice",
                     "password": "secret"}}, token=self.pat)
        self.assertEqual(st, 200, job)
        job = self.m.wait_job(job["id"], self.pat)
        self.assertEqual(job["state"], "SUCCESS", job)
        self.assertEqual(job["args"]["password"], "******")
        r = job["result"]["job_states"][0]["results"][0]
        self.last_errors = r["errors"]  # hosts that could not be asked
        hosts = {p["hostname"]: {l["digest"]: l["done"] for l in p["layers"]} for p in r["peers"]}
        return hosts, sorted(l["digest"] for l in r["image"]["layers"])

    def test_image_preheat_then_containerd_pull_asks_the_registry_for_no_blob(self):
        image = R.push_image(self.reg, "dfly/preheat", "v1", layers=(1 * MIB, 6 * MIB),
                             seed=501, index=True)
        wait_for(lambda: self.m.request("GET", "/api/v1/peers?state=active",
                                        token=self.root)[1], what="the host known as a peer")
        # Before anything: which hosts hold the image's layers? None.
        hosts, layers = self.distribution("dfly/preheat", "v1")
        self.assertEqual(layers, sorted(image["blobs"]))
        self.assertEqual(hosts, {})
        st, job, _ = self.m.request("POST", "/api/v1/jobs", {
            "type": "preheat",
            "args": {"type": "image", "url": self.manifest_url("dfly/preheat", "v1"),
                     "username": "alice", "password": "secret", "platform": "linux/amd64",
                     "scope": "all_seed_peers"}}, token=self.root)
        self.assertEqual(st, 200, job)
        job = self.m.wait_job(job["id"], self.root, prefix="/api/v1/jobs")
        self.assertEqual(job["state"], "SUCCESS", job)
        results = job["result"]["job_states"][0]["results"][0]
        want = sorted(f"{self.reg.url}/v2/dfly/preheat/blobs/{d}" for d in image["blobs"])
        for seed in ("seed-0", "seed-1"):
            got = sorted(t["url"] for t in results["success_tasks"] if t["hostname"] == seed)
            self.assertEqual(got, want, f"per-layer results of {seed}")
        self.assertEqual(self.m.request("GET", f"/api/v1/jobs/{job['id']}",
                                        token=self.root)[1]["args"]["password"], "******")
        # The pull through a host's mirror: no blob from the registry.
        self.reg.reset_access_log()
        certs = self.env.path("certs")
        r = subprocess.run([os.path.join(BIN, "dfinit"), "containerd", "--certs-dir", certs,
                            "--mirror", f"http://127.0.0.1:{self.host.proxy_port}",
                            "--registry", f"{self.reg.host}={self.reg.url}",
                            "--ca", f"{self.reg.host}={self.reg.ca}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctd.pull(image["ref"], certs, user="alice:secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.ctd.verify(image)
        for d in image["blobs"]:
            self.assertEqual(self.reg.blob_gets(d), 0, f"blob {d} fetched from the registry")
        self.assertGreaterEqual(
            self.host.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}),
            len(image["blobs"]))
        # Now both seed peers (preheated) and the host (pulled) hold every layer, whole. (The job
        # asks the components that are active when it runs: asked again if a keepalive was late
        # on a loaded machine.)
        every = {d: True for d in image["blobs"]}
        want = {"seed-0": every, "seed-1": every, "host": every}
        seen = []
        try:
            wait_for(lambda: seen.append(self.distribution("dfly/preheat", "v1")[0])
                     or seen[-1] == want, timeout=60, interval=1, what="every host, every blob")
        except AssertionError:
            self.fail(f"want {want}, last answers {seen[-2:]}, errors {self.last_errors}")

    def harbor_new(self, headers, name):
        """Harbor 2.12+: GET /healthy, POST /oapi/v1/jobs with its body, poll GET."""
        image = R.push_image(self.reg, name, "v1", layers=(1 * MIB,), seed=hash(name) % 1000)
        st, _, _ = self.m.request("GET", "/healthy", headers=headers)
        self.assertEqual(st, 200)
        body = {"type": "preheat",
                "args": {"type": "image", "url": self.manifest_url(name, "v1"), "tag": "",
                         "filtered_query_params": "",
                         "headers": {"Authorization": "Bearer " + self.robot_token(name)},
                         "scope": "single_seed_peer", "concurrent_count": 0, "timeout": 0},
                "scheduler_cluster_ids": []}
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", body, headers=headers)
        self.assertEqual(st, 200, job)
        result = {}

        def poll():
            s, j, _ = self.m.request("GET", f"/oapi/v1/jobs/{job['id']}", headers=headers)
            self.assertEqual(s, 200, j)
            result["job"] = j
            return j["state"] in ("SUCCESS", "FAILURE")

        wait_for(poll, timeout=120, interval=0.5, what="harbor job")
        j = result["job"]
        self.assertEqual(j["state"], "SUCCESS", j)
        tasks = [t for s in j["result"]["job_states"] for r in s["results"]
                 for t in r["success_tasks"]]
        self.assertEqual(len(tasks), len(image["blobs"]))
        return image

    def test_harbor_new_api_under_each_auth_mode(self):
        self.harbor_new({"Authorization": f"Bearer {self.pat}"}, "harbor/oauth")
        import base64
        creds = base64.b64encode(f"root:{self.m.root_password}".encode()).decode()
        self.harbor_new({"Authorization": f"Basic {creds}"}, "harbor/basic")
        self.harbor_new({"Authorization": self.pat}, "harbor/custom")
        st, _, _ = self.m.request("POST", "/oapi/v1/jobs", {"type": "preheat", "args": {}})
        self.assertEqual(st, 401)

    def test_harbor_old_api_sequence(self):
        name = "harbor/old"
        image = R.push_image(self.reg, name, "v2", layers=(2 * MIB,), seed=777)
        auth = {"Authorization": f"Bearer {self.pat}"}
        st, _, _ = self.m.request("GET", "/_ping", headers=auth)
        self.assertEqual(st, 200)
        body = {"type": "image", "url": self.manifest_url(name, "v2"),
                "headers": {"Authorization": "Bearer " + self.robot_token(name)},
                "image": name, "tag": "v2", "digest": image["manifest_digest"]}
        st, created, _ = self.m.request("POST", "/preheats", body, headers=auth)
        self.assertEqual(st, 200, created)
        self.assertIsInstance(created["ID"], str)
        seen = set()
        result = {}

        def poll():
            s, j, _ = self.m.request("GET", f"/preheats/{created['ID']}", headers=auth)
            self.assertEqual(s, 200, j)
            self.assertEqual(set(j), {"ID", "startTime", "finishTime", "errorMsg", "Status"})
            seen.add(j["Status"])
            result["job"] = j
            return j["Status"] in ("SUCCESS", "FAILED")

        wait_for(poll, timeout=120, interval=0.2, what="old harbor preheat")
        self.assertEqual(result["job"]["Status"], "SUCCESS", result["job"])
        self.assertTrue(seen <= {"WAITING", "RUNNING", "SUCCESS"}, seen)
        # The same image again: already preheated.
        st, again, _ = self.m.request("POST", "/preheats", body, headers=auth)
        self.assertEqual((st, again["ID"]), (208, created["ID"]))
        st, _, _ = self.m.request("POST", "/preheats", body, headers={"Authorization": "x"})
        self.assertEqual(st, 401)


if __name__ == "__main__":
    unittest.main()
