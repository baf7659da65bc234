"""End-to-end tests of the manager (issue #5): components registering over gRPC, users / JWT /
personal access tokens, jobs (file preheat, get_task, delete_task) run against real seed peers,
cluster config reaching a running scheduler, scheduler selection, bad input and secrets in logs.
Image preheat and Harbor's request sequences against a real registry are in
test_manager_registry.py.

DF_MANAGER_DB=sqlite (default) | postgres | mariadb picks the database: PostgreSQL and MariaDB
are real servers started per test (databases.py). ReplicaTest runs two managers on one
PostgreSQL."""

import datetime
import os
import re
import shutil
import signal
import unittest

import databases
from cluster import Cluster, wait_for

MIB = 1 << 20
DB = os.environ.get("DF_MANAGER_DB", "sqlite")


def start_database(kind):
    """(server, manager `database` config) for a fresh PostgreSQL or MariaDB, or (None, None)
    for the embedded SQLite."""
    if kind == "sqlite":
        return None, None
    server = databases.Postgres() if kind == "postgres" else databases.MariaDB()
    section = "postgres" if kind == "postgres" else "mysql"
    return server, {"type": section, section: {"host": server.host, "port": server.port,
                                                "user": server.user,
                                                "password": server.password,
                                                "dbname": server.dbname}}


def rfc3339(delta_s):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ManagerTest(unittest.TestCase):
    def setUp(self):
        try:
            self.db, database = start_database(DB)
        except databases.ServerNotInstalled as e:
            self.skipTest(str(e))
        self.addCleanup(lambda: self.db and self.db.kill())
        # DF_E2E_TLS=1: every component with a certificate from the cluster's CA (mutual TLS on
        # the manager's, the schedulers' and the daemons' gRPC ports).
        self.c = Cluster(prefix="df-manager-e2e-", tls=os.environ.get("DF_E2E_TLS") == "1")
        self.m = self.c.manager(database=database)
        self.root = self.m.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def components(self, kind, state="active"):
        st, body, _ = self.m.request("GET", f"/api/v1/{kind}?state={state}", token=self.root)
        self.assertEqual(st, 200, body)
        return body

    def cluster_with_seeds(self, n=2):
        sched = self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n"
                                 "  keepAliveInterval: 1s\n")
        seeds = [self.c.daemon(f"seed-{i}", sched, seed=True,
                               extra={"manager": {"addrs": [self.m.grpc_addr],
                                                  "keepAliveInterval": "1s"}})
                 for i in range(n)]
        wait_for(lambda: len(self.components("schedulers")) == 1 and
                 len(self.components("seed-peers")) == n, timeout=30,
                 what="scheduler and seed peers registered")
        if self.c.pki:  # the TLS variant really speaks TLS everywhere
            for p in [self.m, sched, *seeds]:
                self.assertNotIn("plaintext gRPC", p.logs(), p.name)
        return sched, seeds

    def token(self, scopes=("job",), expired_at=None, name="ci"):
        body = {"name": name, "scopes": list(scopes)}
        if expired_at:
            body["expired_at"] = expired_at
        st, t, _ = self.m.request("POST", "/api/v1/personal-access-tokens", body,
                                  token=self.root)
        self.assertEqual(st, 200, t)
        return t

    def test_components_register_and_turn_inactive_when_killed(self):
        sched, seeds = self.cluster_with_seeds(2)
        names = sorted(s["host_name"] for s in self.components("seed-peers"))
        self.assertEqual(names, ["seed-0", "seed-1"])
        sched.kill(signal.SIGKILL)
        wait_for(lambda: not self.components("schedulers"), timeout=10,
                 what="the killed scheduler inactive within 10 s")
        self.assertEqual(len(self.components("schedulers", "inactive")), 1)
        seeds[0].kill(signal.SIGKILL)
        wait_for(lambda: len(self.components("seed-peers")) == 1, timeout=10,
                 what="the killed seed peer inactive")
        # Root forgets inactive instances, not active ones (they would only come back).
        active = self.components("seed-peers")[0]
        st, msg, _ = self.m.request("DELETE", f"/api/v1/seed-peers/{active['id']}",
                                    token=self.root)
        self.assertEqual(st, 409, msg)
        gone = self.components("schedulers", "inactive")[0]
        self.assertEqual(self.m.request("DELETE", f"/api/v1/schedulers/{gone['id']}",
                                        token=self.root)[0], 200)
        self.assertEqual(self.components("schedulers", "inactive"), [])
        self.assertEqual(self.m.request("DELETE", f"/api/v1/schedulers/{gone['id']}",
                                        token=self.root)[0], 404)

    def test_file_preheat_get_task_delete_task(self):
        origin = self.c.origin()
        self.c.make_file("model.bin", 12 * MIB)
        _, seeds = self.cluster_with_seeds(2)
        pat = self.token()["token"]
        url = origin.url("model.bin")
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": url, "scope": "all_seed_peers"}},
            token=pat)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["state"], "PENDING")
        self.assertTrue(job["task_id"].startswith("group_"))
        job = self.m.wait_job(job["id"], pat)
        self.assertEqual(job["state"], "SUCCESS", job)
        results = job["result"]["job_states"][0]["results"][0]
        self.assertEqual(sorted(t["hostname"] for t in results["success_tasks"]),
                         ["seed-0", "seed-1"])
        self.assertEqual(results["failure_tasks"], [])
        for s in seeds:
            # The counters follow the stored pieces (a piece is counted just after it is stored,
            # which is what ends the job): read them until they settle.
            wait_for(lambda: s.metric("dragonfly_dfdaemon_download_bytes_total") >= 12 * MIB,
                     timeout=10, what=f"{s.name} counting 12 MiB downloaded")
            self.assertEqual(s.metric("dragonfly_dfdaemon_download_bytes_total"), 12 * MIB)
        # The origin served the file about once: the second seed peer got it from the first.
        self.assertLessEqual(origin.stats()["total_bytes"], 2 * 12 * MIB)

        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "get_task", "args": {"url": url}}, token=pat)
        self.assertEqual(st, 200, job)
        job = self.m.wait_job(job["id"], pat)
        peers = job["result"]["job_states"][0]["results"][0]["peers"]
        self.assertEqual(sorted(p["hostname"] for p in peers), ["seed-0", "seed-1"])

        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "delete_task", "args": {"url": url}}, token=pat)
        job = self.m.wait_job(job["id"], pat)
        self.assertEqual(job["state"], "SUCCESS", job)
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "get_task", "args": {"url": url}}, token=pat)
        job = self.m.wait_job(job["id"], pat)
        self.assertEqual(job["result"]["job_states"][0]["results"][0]["peers"], [])

        # Listing with filters.
        st, jobs, headers = self.m.request("GET", "/api/v1/jobs?type=get_task&state=SUCCESS",
                                           token=self.root)
        self.assertEqual(st, 200)
        self.assertEqual(len(jobs), 2)
        self.assertEqual(headers["X-Total-Count"], "2")

    def test_all_peers_preheat_with_count(self):
        origin = self.c.origin()
        self.c.make_file("all.bin", 3 * MIB)
        sched, _ = self.cluster_with_seeds(1)
        manager = {"addrs": [self.m.grpc_addr], "refreshInterval": "1s"}
        peers = [self.c.daemon(f"peer-{i}", sched, extra={"manager": manager})
                 for i in range(2)]
        wait_for(lambda: len(self.components("peers")) == 2, timeout=30,
                 what="two peers seen by the manager")
        pat = self.token()["token"]
        job = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": origin.url("all.bin"),
                                        "scope": "all_peers"}}, token=pat)[1]
        job = self.m.wait_job(job["id"], pat)
        self.assertEqual(job["state"], "SUCCESS", job)
        hosts = sorted(t["hostname"] for s in job["result"]["job_states"]
                       for r in s["results"] for t in r["success_tasks"])
        self.assertEqual(hosts, ["peer-0", "peer-1", "seed-0"])
        # Each peer fetched the file from the network once. (Jobs run at least once: a job
        # whose lease lapsed under load is redone, and the redo is a local cache hit.)
        for p in peers:
            fetched = sum(p.metric("dragonfly_dfdaemon_download_bytes_total", {"source": s})
                          for s in ("remote_peer", "back_to_source"))
            self.assertEqual(fetched, 3 * MIB)
        # count: the seed peers and that many peers.
        self.c.make_file("some.bin", 1 * MIB)
        job = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": origin.url("some.bin"),
                                        "scope": "all_peers", "count": 1}}, token=pat)[1]
        job = self.m.wait_job(job["id"], pat)
        hosts = [t["hostname"] for s in job["result"]["job_states"]
                 for r in s["results"] for t in r["success_tasks"]]
        self.assertEqual(len(hosts), 2, hosts)
        self.assertIn("seed-0", hosts)

    def test_preheat_without_seed_peers_fails_with_a_reason(self):
        pat = self.token()["token"]
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": "http://127.0.0.1:9/x"}},
            token=pat)
        job = self.m.wait_job(job["id"], pat)
        self.assertEqual(job["state"], "FAILURE")
        self.assertIn("no active seed peer", job["result"]["job_states"][0]["error"])

    def test_tokens_scopes_expiry_revocation(self):
        body = {"type": "get_task", "args": {"task_id": "ab" * 32}}
        good = self.token(("job",))
        st, _, _ = self.m.request("POST", "/oapi/v1/jobs", body, token=good["token"])
        self.assertEqual(st, 200)
        # Wrong, expired, revoked, wrong scope.
        st, msg, h = self.m.request("POST", "/oapi/v1/jobs", body, token="dfp_wrong")
        self.assertEqual((st, msg["message"]), (401, "invalid token"))
        self.assertIn("Bearer", h["WWW-Authenticate"])
        expired = self.token(("job",), expired_at=rfc3339(-60), name="old")
        st, msg, _ = self.m.request("POST", "/oapi/v1/jobs", body, token=expired["token"])
        self.assertEqual((st, msg["message"]), (401, "token expired"))
        cluster_only = self.token(("cluster",), name="clusters")
        st, msg, _ = self.m.request("POST", "/oapi/v1/jobs", body, token=cluster_only["token"])
        self.assertEqual(st, 403, msg)
        st, _, _ = self.m.request("GET", "/oapi/v1/clusters", token=cluster_only["token"])
        self.assertEqual(st, 200)
        st, _, _ = self.m.request("PATCH", f"/api/v1/personal-access-tokens/{good['id']}",
                                  {"state": "inactive"}, token=self.root)
        self.assertEqual(st, 200)
        st, msg, _ = self.m.request("POST", "/oapi/v1/jobs", body, token=good["token"])
        self.assertEqual((st, msg["message"]), (401, "token revoked"))
        st, _, _ = self.m.request("POST", "/oapi/v1/jobs", body)
        self.assertEqual(st, 401)
        # A tampered JWT and a guest's JWT on a root-only route.
        st, _, _ = self.m.request("GET", "/api/v1/users", token=self.root[:-2] + "xx")
        self.assertEqual(st, 401)
        st, _, _ = self.m.request("POST", "/api/v1/users", {"name": "guest1",
                                                            "password": "guest-pass-1"},
                                  token=self.root)
        self.assertEqual(st, 200)
        guest = self.m.signin("guest1", "guest-pass-1")
        st, _, _ = self.m.request("GET", "/api/v1/users", token=guest)
        self.assertEqual(st, 403)
        # A token is for the open API only: it cannot manage users or mint tokens.
        st, msg, _ = self.m.request("GET", "/api/v1/users", token=cluster_only["token"])
        self.assertEqual(st, 401, msg)
        st, _, _ = self.m.request("POST", "/api/v1/personal-access-tokens", {"name": "more"},
                                  token=cluster_only["token"])
        self.assertEqual(st, 401)
        # A guest's token may read clusters but not change them.
        st, gt, _ = self.m.request("POST", "/api/v1/personal-access-tokens",
                                   {"name": "g", "scopes": ["cluster", "job"]}, token=guest)
        self.assertEqual(st, 200, gt)
        self.assertEqual(self.m.request("GET", "/oapi/v1/clusters", token=gt["token"])[0], 200)
        self.assertEqual(self.m.request("POST", "/oapi/v1/clusters", {"name": "evil"},
                                        token=gt["token"])[0], 403)
        self.assertEqual(self.m.request("DELETE", "/oapi/v1/clusters/1",
                                        token=gt["token"])[0], 403)
        # A guest sees only their own jobs.
        st, root_job, _ = self.m.request("POST", "/api/v1/jobs", body, token=self.root)
        self.assertEqual(self.m.request("GET", f"/oapi/v1/jobs/{root_job['id']}",
                                        token=gt["token"])[0], 404)
        st, jobs, _ = self.m.request("GET", "/oapi/v1/jobs", token=gt["token"])
        self.assertEqual(jobs, [])
        # Disabling a user ends their session at once (not when the JWT expires).
        st, users, _ = self.m.request("GET", "/api/v1/users", token=self.root)
        gid = [u["id"] for u in users if u["name"] == "guest1"][0]
        st, _, _ = self.m.request("PATCH", f"/api/v1/users/{gid}", {"state": "disable"},
                                  token=self.root)
        self.assertEqual(st, 200)
        self.assertEqual(self.m.request("GET", f"/api/v1/users/{gid}", token=guest)[0], 401)
        self.assertEqual(self.m.request("GET", "/oapi/v1/jobs", token=gt["token"])[0], 401)
        st, _, _ = self.m.request("POST", "/api/v1/users/signin",
                                  {"name": "root", "password": "wrong-password"})
        self.assertEqual(st, 401)

    def test_bad_input_gets_4xx_and_secrets_stay_out_of_logs(self):
        pat = self.token()["token"]
        cases = [
            ("malformed JSON", b"{not json", 400),
            ("array body", b"[1, 2]", 400),
            ("unknown job type", b'{"type": "format_disk", "args": {}}', 400),
            ("bad scope", b'{"type": "preheat", "args": {"type": "file", "url": "http://x/a",'
                          b' "scope": "everyone"}}', 400),
            ("bad url", b'{"type": "preheat", "args": {"type": "file", "url": "file:///etc"}}',
             400),
            ("bad header", b'{"type": "preheat", "args": {"type": "file", "url": "http://x/a",'
                           b' "headers": {"X": "a\\r\\nInjected: 1"}}}', 400),
            ("injection in task id", b'{"type": "get_task", "args": {"task_id":'
                                     b' "x\' OR 1=1; DROP TABLE jobs; --"}}', 400),
            ("unknown cluster", b'{"type": "get_task", "args": {"task_id": "ab"},'
                                b' "scheduler_cluster_ids": [999]}', 400),
        ]
        for what, raw, want in cases:
            st, body, _ = self.m.request("POST", "/oapi/v1/jobs", token=pat, raw=raw)
            self.assertEqual(st, want, f"{what}: {body}")
            self.assertTrue(body["message"], what)
        st, body, _ = self.m.request("POST", "/oapi/v1/jobs", token=pat,
                                     raw=b'{"pad": "' + b"x" * (2 * MIB) + b'"}')
        self.assertEqual(st, 413, body)
        st, body, _ = self.m.request("POST", "/api/v1/users", token=self.root,
                                     body={"name": "x'; DROP TABLE users; --",
                                           "password": "long-enough-1"})
        self.assertEqual(st, 400)
        st, body, _ = self.m.request("GET", "/api/v1/jobs/1%20OR%201=1", token=self.root)
        self.assertEqual(st, 400)
        st, users, _ = self.m.request("GET", "/api/v1/users", token=self.root)
        self.assertEqual([u["name"] for u in users], ["root"])
        for path, raw in (("/api/v1/clusters", b'{"name": "c", "is_default": "yes"}'),
                          ("/api/v1/personal-access-tokens", b'{"name": "t", "user_id": "1"}'),
                          ("/api/v1/users", b'{"name": "bob", "password": 12345678}')):
            st, body, _ = self.m.request("POST", path, token=self.root, raw=raw)
            self.assertEqual(st, 400, f"{path}: {body}")
        # null args take the defaults (and never crash a worker).
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", token=pat, raw=(
            b'{"type": "get_task", "args": {"task_id": "ab", "concurrent_task_count": null,'
            b' "password": null}}'))
        self.assertEqual(st, 200, job)
        self.assertEqual(self.m.wait_job(job["id"], pat)["state"], "FAILURE")
        # Credentials given to a job are never returned.
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": "http://127.0.0.1:9/f",
                                        "headers": {"Authorization": "Bearer sekrit-123",
                                                    "X-Registry-Auth": "sekrit-789"},
                                        "password": "pw-sekrit-456"}}, token=pat)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["args"]["headers"]["Authorization"], "******")
        self.assertEqual(job["args"]["headers"]["X-Registry-Auth"], "******")
        self.m.wait_job(job["id"], pat)
        logs = self.m.logs()
        for secret in (self.m.root_password, pat, self.root, "sekrit-123", "pw-sekrit-456",
                       "sekrit-789"):
            self.assertNotIn(secret, logs)
        if DB != "sqlite":
            return
        # Passwords are stored as argon2id, the JWT key is generated (not a constant).
        import sqlite3
        db = sqlite3.connect(os.path.join(self.m.home, "manager.db"))
        (hash_,) = db.execute("SELECT password_hash FROM users WHERE name='root'").fetchone()
        self.assertTrue(hash_.startswith("$argon2id$"), hash_)
        (key,) = db.execute("SELECT value FROM settings WHERE name='jwt_key'").fetchone()
        self.assertGreaterEqual(len(key), 64)
        db.close()

    def test_cluster_config_change_reaches_a_running_scheduler(self):
        sched, _ = self.cluster_with_seeds(1)
        limit = "dragonfly_scheduler_candidate_parent_limit"
        wait_for(lambda: sched.metric(limit) == 4, timeout=10, what="the initial config")
        st, c, _ = self.m.request("PATCH", "/api/v1/clusters/1", {
            "scheduler_cluster_config": {"candidate_parent_limit": 7}}, token=self.root)
        self.assertEqual(st, 200, c)
        wait_for(lambda: sched.metric(limit) == 7, timeout=10,
                 what="candidate_parent_limit 7 on the running scheduler")
        self.assertEqual(sched.metric("dragonfly_scheduler_config_version"), c["config_version"])
        # The load limit reaches the daemons too: the seed peer (keepalive) and a peer (its
        # scheduler list refresh) take upload_slots 5 and announce it.
        peer = self.c.daemon("peer", extra={"manager": {"addrs": [self.m.grpc_addr],
                                                        "refreshInterval": "1s"}})
        st, c, _ = self.m.request("PATCH", "/api/v1/clusters/1", {
            "scheduler_cluster_config": {"upload_slots": 5}}, token=self.root)
        self.assertEqual(st, 200, c)
        applied = f"applied cluster config version={c['config_version']} upload_slots=5"
        seed = [d for d in self.c.procs if d.name == "seed-0"][0]
        wait_for(lambda: applied in seed.logs() and applied in peer.logs(), timeout=10,
                 what="upload_slots 5 applied by the seed peer and the peer")

    def test_applications_crud(self):
        body = {"name": "llm-serving", "url": "https://models.example.com", "bio": "weights",
                "priority": {"value": 2, "urls": []}}
        st, app, _ = self.m.request("POST", "/api/v1/applications", body, token=self.root)
        self.assertEqual(st, 200, app)
        self.assertEqual(app["priority"]["value"], 2)
        st, _, _ = self.m.request("POST", "/api/v1/applications", body, token=self.root)
        self.assertEqual(st, 409)
        st, msg, _ = self.m.request("POST", "/api/v1/applications",
                                    {"name": "x", "priority": {"value": 9}}, token=self.root)
        self.assertEqual(st, 400, msg)
        st, app2, _ = self.m.request("PATCH", f"/api/v1/applications/{app['id']}",
                                     {"bio": "new"}, token=self.root)
        self.assertEqual((st, app2["bio"], app2["name"]), (200, "new", "llm-serving"))
        st, apps, _ = self.m.request("GET", "/api/v1/applications", token=self.root)
        self.assertEqual([a["name"] for a in apps], ["llm-serving"])
        st, _, _ = self.m.request("DELETE", f"/api/v1/applications/{app['id']}",
                                  token=self.root)
        self.assertEqual(st, 200)
        st, _, _ = self.m.request("GET", f"/api/v1/applications/{app['id']}", token=self.root)
        self.assertEqual(st, 404)

    def test_cluster_crud_and_openapi(self):
        st, c, _ = self.m.request("POST", "/api/v1/clusters", {
            "name": "gpu", "scopes": {"cidrs": ["10.8.0.0/16"], "idc": "idc-a"},
            "scheduler_cluster_config": {"candidate_parent_limit": 6}}, token=self.root)
        self.assertEqual(st, 200, c)
        st, c2, _ = self.m.request("PATCH", f"/api/v1/clusters/{c['id']}", {
            "scheduler_cluster_config": {"candidate_parent_limit": 2}}, token=self.root)
        self.assertEqual(st, 200, c2)
        self.assertEqual(c2["scheduler_cluster_config"]["candidate_parent_limit"], 2)
        self.assertEqual(c2["config_version"], c["config_version"] + 1)
        st, msg, _ = self.m.request("PATCH", f"/api/v1/clusters/{c['id']}", {
            "scheduler_cluster_config": {"candidate_parent_limit": 99}}, token=self.root)
        self.assertEqual(st, 400, msg)
        st, _, _ = self.m.request("POST", "/api/v1/clusters", {"name": "gpu"}, token=self.root)
        self.assertEqual(st, 409)
        st, doc, _ = self.m.request("GET", "/openapi.json")
        self.assertEqual(st, 200)
        self.assertIn("/oapi/v1/jobs", doc["paths"])
        st, text, _ = self.m.request("GET", "/healthy")
        self.assertEqual((st, text), (200, "OK"))


class SchedulerSelectionTest(unittest.TestCase):
    """Daemons in different CIDR / IDC scopes get their own cluster's schedulers; when those
    die they move to another."""

    def setUp(self):
        self.c = Cluster(prefix="df-manager-selection-")
        self.m = self.c.manager()
        self.root = self.m.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def cluster(self, name, scopes):
        st, c, _ = self.m.request("POST", "/api/v1/clusters", {"name": name, "scopes": scopes},
                                  token=self.root)
        self.assertEqual(st, 200, c)
        return c["id"]

    def scheduler(self, cluster_id):
        return self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n"
                                f"  clusterID: {cluster_id}\n  keepAliveInterval: 1s\n")

    @staticmethod
    def current(daemon):
        lists = re.findall(r"schedulers from manager: (.*)", daemon.logs())
        return lists[-1] if lists else ""

    def test_scopes_pick_the_cluster_and_daemons_fail_over(self):
        net = self.cluster("net-a", {"cidrs": ["127.0.0.2/32"]})
        idc = self.cluster("idc-b", {"idc": "idc-b"})
        a1, a2 = self.scheduler(net), self.scheduler(net)
        b = self.scheduler(idc)
        wait_for(lambda: len(self.m.request("GET", "/api/v1/schedulers?state=active",
                                            token=self.root)[1]) == 3, timeout=30,
                 what="three schedulers registered")
        manager = {"addrs": [self.m.grpc_addr], "refreshInterval": "1s"}
        # In the CIDR and the IDC: the CIDR wins.
        da = self.c.daemon("da", extra={"host": {"ip": "127.0.0.2", "idc": "idc-b"},
                                        "manager": manager})
        db = self.c.daemon("db", extra={"host": {"idc": "idc-b"}, "manager": manager})
        wait_for(lambda: a1.addr in self.current(da) and a2.addr in self.current(da),
                 timeout=20, what="da on net-a's schedulers")
        self.assertNotIn(b.addr, self.current(da))
        wait_for(lambda: b.addr in self.current(db), timeout=20, what="db on idc-b's scheduler")
        self.assertNotIn(a1.addr, self.current(db))
        # idc-b's only scheduler dies: db moves to a live one.
        b.kill(signal.SIGKILL)
        wait_for(lambda: b.addr not in self.current(db) and a1.addr in self.current(db),
                 timeout=20, what="db moved off the dead scheduler")
        # One of net-a's two dies: da keeps the other.
        a1.kill(signal.SIGKILL)
        wait_for(lambda: a1.addr not in self.current(da) and a2.addr in self.current(da),
                 timeout=20, what="da moved off the dead scheduler")



class AnonymousOpenApiTest(unittest.TestCase):
    """Harbor's "none" auth mode: with auth.openAPIAnonymous the open API (and Harbor's old
    API) take requests without credentials; /api/v1 still does not."""

    def setUp(self):
        self.c = Cluster(prefix="df-manager-anon-")
        self.m = self.c.manager(extra={"auth": {"rootPassword": "root-secret-1",
                                                "openAPIAnonymous": True}})

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def test_harbor_sequence_without_credentials(self):
        self.assertEqual(self.m.request("GET", "/healthy")[0], 200)
        body = {"type": "preheat",
                "args": {"type": "image", "url": "https://127.0.0.1:9/v2/p/r/manifests/v1",
                         "tag": "", "filtered_query_params": "",
                         "headers": {"Authorization": "Bearer robot"},
                         "scope": "single_seed_peer", "concurrent_count": 0, "timeout": 0},
                "scheduler_cluster_ids": []}
        st, job, _ = self.m.request("POST", "/oapi/v1/jobs", body)
        self.assertEqual(st, 200, job)
        done = self.m.wait_job(job["id"], None)
        # No seed peer in this cluster: a clear failure, reported as Harbor expects.
        self.assertEqual(done["state"], "FAILURE")
        self.assertTrue(done["result"]["job_states"][0]["error"])
        self.assertEqual(self.m.request("GET", "/_ping")[0], 200)
        self.assertEqual(self.m.request("GET", "/api/v1/jobs")[0], 401)
        self.assertEqual(self.m.request("GET", "/api/v1/users")[0], 401)


class ManagerHardeningTest(unittest.TestCase):
    """Issue #11's manager points, each played by the attacker: password guessing, a stolen
    session after a password change, a guest's cluster-wide delete, anonymous job listing, and
    preheat aimed at internal addresses."""

    def setUp(self):
        self.c = Cluster(prefix="df-manager-hard-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def test_sign_up_is_off_by_default_makes_only_guests_and_is_bounded(self):
        m = self.c.manager()
        self.assertEqual(m.request("GET", "/api/v1/users/signup")[1], {"allowed": False})
        st, body, _ = m.request("POST", "/api/v1/users/signup",
                                {"name": "mallory", "password": "mallory-pass-1"})
        self.assertEqual(st, 403, body)
        self.assertEqual(m.request("POST", "/api/v1/users/signin",
                                   {"name": "mallory", "password": "mallory-pass-1"})[0], 401)

        m = self.c.manager(name="open-manager", extra={"auth": {"allowSignUp": True}})
        self.assertEqual(m.request("GET", "/api/v1/users/signup")[1], {"allowed": True})
        # A sign-up cannot choose its role.
        st, body, _ = m.request("POST", "/api/v1/users/signup",
                                {"name": "mallory", "password": "mallory-pass-1", "role": "root"})
        self.assertEqual(st, 400, body)
        st, user, _ = m.request("POST", "/api/v1/users/signup",
                                {"name": "mallory", "password": "mallory-pass-1"})
        self.assertEqual((st, user["role"]), (200, "guest"), user)
        st, again, _ = m.request("POST", "/api/v1/users/signup",
                                 {"name": "mallory", "password": "another-pass-1"})
        self.assertEqual(st, 409, again)  # a taken name
        guest = m.signin("mallory", "mallory-pass-1")
        self.assertEqual(m.request("GET", "/api/v1/users", token=guest)[0], 403)
        # Bounded per address: 5 sign-ups an hour (the refused ones do not count).
        codes = [m.request("POST", "/api/v1/users/signup",
                           {"name": f"bot{i}", "password": "bot-password"})[0] for i in range(6)]
        self.assertEqual(codes, [200, 200, 200, 200, 429, 429])

    def test_sign_in_is_throttled_after_repeated_failures(self):
        m = self.c.manager()
        for _ in range(5):
            st, _, _ = m.request("POST", "/api/v1/users/signin",
                                 {"name": "root", "password": "guess-guess"})
            self.assertEqual(st, 401)
        # Now even the right password waits, and says how long.
        st, body, headers = m.request("POST", "/api/v1/users/signin",
                                      {"name": "root", "password": m.root_password})
        self.assertEqual(st, 429, body)
        self.assertGreater(int(headers["Retry-After"]), 0)
        # Basic credentials are the same door.
        import base64
        basic = base64.b64encode(f"root:{m.root_password}".encode()).decode()
        st, _, _ = m.request("GET", "/api/v1/users", headers={"Authorization": "Basic " + basic})
        self.assertEqual(st, 429)

    def test_password_change_ends_sessions_and_guests_cannot_delete(self):
        m = self.c.manager()
        root = m.signin()
        st, _, _ = m.request("POST", "/api/v1/users", {"name": "guest1",
                                                      "password": "guest-pass-1"}, token=root)
        self.assertEqual(st, 200)
        guest = m.signin("guest1", "guest-pass-1")
        body = {"type": "delete_task", "args": {"url": "http://127.0.0.1:9/x"}}
        st, msg, _ = m.request("POST", "/api/v1/jobs", body, token=guest)
        self.assertEqual(st, 403, msg)
        self.assertIn("root", msg["message"] if isinstance(msg, dict) else msg)
        # A session taken before the password change is over; a new sign-in works.
        stolen = m.signin()
        st, _, _ = m.request("POST", "/api/v1/users/1/reset_password",
                             {"new_password": "root-secret-2"}, token=root)
        self.assertEqual(st, 200)
        for old in (stolen, root):
            st, msg, _ = m.request("GET", "/api/v1/users", token=old)
            self.assertEqual(st, 401, msg)
        fresh = m.signin(password="root-secret-2")
        self.assertEqual(m.request("GET", "/api/v1/users", token=fresh)[0], 200)

    def test_anonymous_callers_see_only_anonymous_jobs(self):
        m = self.c.manager(extra={"auth": {"rootPassword": "root-secret-1",
                                           "openAPIAnonymous": True}})
        root = m.signin()
        body = {"type": "preheat", "args": {"type": "file", "url": "http://127.0.0.1:9/r"}}
        st, mine, _ = m.request("POST", "/api/v1/jobs", body, token=root)
        self.assertEqual(st, 200, mine)
        st, jobs, _ = m.request("GET", "/oapi/v1/jobs")
        self.assertEqual(st, 200, jobs)
        self.assertNotIn(mine["id"], [j["id"] for j in jobs])
        self.assertEqual(m.request("GET", f"/oapi/v1/jobs/{mine['id']}")[0], 404)

    def test_job_credentials_are_dropped_once_the_job_has_run(self):
        m = self.c.manager()
        root = m.signin()
        body = {"type": "preheat", "args": {"type": "file", "url": "http://127.0.0.1:9/x",
                                            "headers": {"Authorization": "Bearer ROBOTSECRET"}}}
        st, job, _ = m.request("POST", "/api/v1/jobs", body, token=root)
        self.assertEqual(st, 200, job)
        self.assertEqual(m.wait_job(job["id"], root, prefix="/api/v1/jobs")["state"], "FAILURE")
        import sqlite3
        con = sqlite3.connect(os.path.join(m.home, "manager.db"))
        try:
            (args,) = con.execute("SELECT args FROM jobs WHERE id = ?", (job["id"],)).fetchone()
        finally:
            con.close()
        self.assertNotIn("ROBOTSECRET", args)
        self.assertIn("Authorization", args)

    def test_preheat_of_internal_addresses_is_refused_by_default(self):
        m = self.c.manager(extra={"job": {"allowedNetworks": []}})
        root = m.signin()
        for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest/meta-data",
                    "http://10.1.2.3/x", "http://[::1]:9/x", "http://localhost:9/x",
                    "https://192.168.1.1/v2/a/b/manifests/latest"):
            body = {"type": "preheat", "args": {"type": "file", "url": url}}
            st, msg, _ = m.request("POST", "/api/v1/jobs", body, token=root)
            self.assertEqual(st, 403, f"{url}: {msg}")
        # Hidden among harmless ones in a file preheat's list: still refused.
        body = {"type": "preheat", "args": {"type": "file", "urls": [
            "http://203.0.113.7/a", "http://169.254.169.254/latest/meta-data"]}}
        st, msg, _ = m.request("POST", "/api/v1/jobs", body, token=root)
        self.assertEqual(st, 403, msg)
        self.assertIn("169.254.169.254", msg["message"])
        # A configured exception lets one range through.
        m2 = self.c.manager(name="manager-2", extra={"job": {"allowedNetworks": ["10.1.0.0/16"]}})
        body = {"type": "preheat", "args": {"type": "file", "url": "http://10.1.2.3/x"}}
        self.assertEqual(m2.request("POST", "/api/v1/jobs", body, token=m2.signin())[0], 200)


class ComponentTokenTest(unittest.TestCase):
    """With auth.componentToken, only schedulers and daemons that present it register or get
    schedulers: a stranger on the gRPC port cannot pose as a seed peer (and so receive the
    registry credentials of preheat jobs)."""

    def setUp(self):
        self.c = Cluster(prefix="df-manager-token-")
        self.m = self.c.manager(extra={"auth": {"rootPassword": "root-secret-1",
                                                "componentToken": "component-s3cret"}})
        self.root = self.m.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def active(self, kind):
        return self.m.request("GET", f"/api/v1/{kind}?state=active", token=self.root)[1]

    def refusals(self):
        return self.m.logs().count("without a valid component token")

    def test_only_components_with_the_token_register(self):
        self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n  token: wrong\n")
        wait_for(lambda: self.refusals() >= 1, timeout=20, what="the stranger refused")
        good = self.c.scheduler(f"manager:\n  addr: {self.m.grpc_addr}\n"
                                "  token: component-s3cret\n")
        self.c.daemon("seed", good, seed=True, extra={"manager": {
            "addrs": [self.m.grpc_addr], "token": "component-s3cret"}})
        wait_for(lambda: len(self.active("seed-peers")) == 1, timeout=20,
                 what="the seed peer with the token registered")
        self.assertEqual([s["port"] for s in self.active("schedulers")],
                         [int(good.addr.rsplit(":", 1)[1])])
        before = self.refusals()
        self.c.daemon("stranger", extra={"manager": {"addrs": [self.m.grpc_addr]}})
        wait_for(lambda: self.refusals() > before, timeout=20,
                 what="the daemon without the token refused")
        self.assertEqual(self.active("peers"), [])
        self.assertNotIn("component-s3cret", self.m.logs())


class ReplicaTest(unittest.TestCase):
    """Two managers on one PostgreSQL: every job runs exactly once; a manager killed mid-job,
    the other finishes it."""

    def setUp(self):
        try:
            self.db, database = start_database("postgres")
        except databases.ServerNotInstalled as e:
            self.skipTest(str(e))
        self.addCleanup(self.db.kill)
        self.c = Cluster(prefix="df-manager-replicas-")
        self.m1 = self.c.manager("manager-1", database=database)
        self.m2 = self.c.manager("manager-2", database=database)
        self.root = self.m1.signin()

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    @staticmethod
    def started(m):
        return [int(x) for x in re.findall(r"job started id=(\d+)", m.logs())]

    def test_each_job_runs_once_and_a_dead_replicas_job_is_taken_over(self):
        origin = self.c.origin()
        for i in range(6):
            self.c.make_file(f"f{i}.bin", 1 * MIB)
        self.c.make_file("slow.bin", 8 * MIB)
        sched = self.c.scheduler(f"manager:\n  addr: {self.m1.grpc_addr}\n")
        # The seed peer reports to both managers' database through either replica.
        self.c.daemon("seed", sched, seed=True,
                      extra={"manager": {"addrs": [self.m1.grpc_addr, self.m2.grpc_addr],
                                         "keepAliveInterval": "1s"}})
        wait_for(lambda: len(self.m2.request("GET", "/api/v1/seed-peers?state=active",
                                             token=self.root)[1]) == 1,
                 timeout=30, what="seed peer registered")
        # The JWT of one replica is valid on the other: one key in the shared database.
        ids = []
        for i in range(6):
            m = (self.m1, self.m2)[i % 2]
            st, job, _ = m.request("POST", "/api/v1/jobs", {
                "type": "preheat", "args": {"type": "file", "url": origin.url(f"f{i}.bin")}},
                token=self.root)
            self.assertEqual(st, 200, job)
            ids.append(job["id"])
        for i in ids:
            self.assertEqual(self.m1.wait_job(i, self.root, prefix="/api/v1/jobs")["state"],
                             "SUCCESS")
        runs = self.started(self.m1) + self.started(self.m2)
        self.assertEqual(sorted(runs), sorted(ids), "every job ran exactly once")

        # A slow job: the replica that runs it is killed; the other finishes it.
        st, job, _ = self.m1.request("POST", "/api/v1/jobs", {
            "type": "preheat",
            "args": {"type": "file", "url": origin.url("slow.bin") + f"?slow={2 * MIB}"}},
            token=self.root)
        slow = job["id"]
        wait_for(lambda: slow in self.started(self.m1) + self.started(self.m2), timeout=30,
                 what="the slow job started")
        owner, other = ((self.m1, self.m2) if slow in self.started(self.m1)
                        else (self.m2, self.m1))
        owner.kill(signal.SIGKILL)
        done = other.wait_job(slow, self.root, prefix="/api/v1/jobs", timeout=120)
        self.assertEqual(done["state"], "SUCCESS", done)
        self.assertIn(slow, self.started(other), "the surviving replica took the job over")


if __name__ == "__main__":
    unittest.main()
