"""Monitoring as an operator runs it (issue #14): Debian's `prometheus` scrapes a live cluster
(manager, scheduler, a seed peer, two peers) with the scrape configuration from docs/metrics.md
and the alert rules from deploy/monitoring/alerts.yml. Its HTTP API returns every series
docs/metrics.md lists; every query of the shipped Grafana dashboards is valid and returns data;
every alert expression is valid and empty while the cluster is healthy; breaking the cluster
(an origin 404, the scheduler killed) makes the matching alerts' expressions return data."""

import json
import os
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import unittest

import yaml

from cluster import LOOPBACK, ROOT, Cluster, hostport, wait_for

MIB = 1024 * 1024
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
METRICS_DOC = os.path.join(ROOT, "docs", "metrics.md")


def documented_series():
    """(name, type) of every series in docs/metrics.md's tables."""
    with open(METRICS_DOC) as f:
        rows = re.findall(r"^\| `(dragonfly_[a-z_]+)` \| (counter|gauge|histogram) \|", f.read(),
                          re.M)
    return sorted(set(rows))


def documented_scrape_config():
    """The YAML block that follows the scrape-config marker in docs/metrics.md."""
    with open(METRICS_DOC) as f:
        text = f.read()
    m = re.search(r"<!-- scrape-config.*?-->\s*```yaml\n(.*?)```", text, re.S)
    assert m, "docs/metrics.md has no scrape-config block"
    return yaml.safe_load(m.group(1))


def dashboard_queries():
    """(dashboard file, panel title, expr) of every target of the shipped dashboards."""
    out = []
    d = os.path.join(MONITORING, "grafana")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as f:
            dash = json.load(f)
        for panel in dash["panels"]:
            for target in panel["targets"]:
                out.append((name, panel["title"], target["expr"]))
    return out


def alert_rules():
    with open(os.path.join(MONITORING, "alerts.yml")) as f:
        return {r["alert"]: r["expr"] for g in yaml.safe_load(f)["groups"] for r in g["rules"]}


def free_port():
    with socket.socket(socket.AF_INET6 if ":" in LOOPBACK else socket.AF_INET) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def metrics_port(proc):
    """The metrics port a manager or scheduler logged (its last start)."""
    found = re.findall(r"metrics listening on \S*:(\d+)", proc.logs())
    assert found, f"{proc.name} logged no metrics address"
    return int(found[-1])


class Prometheus:
    """Debian's prometheus on loopback, scraping every second."""

    def __init__(self, workdir, scrape_configs):
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(self.dir)
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [os.path.join(MONITORING, "alerts.yml")],
                  "scrape_configs": scrape_configs}
        path = os.path.join(self.dir, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        check = subprocess.run(["promtool", "check", "config", path], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        self.addr = hostport(free_port())
        self.log = os.path.join(self.dir, "prometheus.log")
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={self.dir}/data",
                 f"--web.listen-address={self.addr}", "--log.level=warn"],
                stdout=logf, stderr=subprocess.STDOUT)
        wait_for(self.ready, timeout=60, interval=0.2, what="prometheus to be ready")

    def ready(self):
        assert self.proc.poll() is None, self.logs()
        try:
            with urllib.request.urlopen(f"http://{self.addr}/-/ready", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def api(self, path, **params):
        url = f"http://{self.addr}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        return body

    def query(self, expr):
        """The result vector of an instant query; fails the test on an invalid expression."""
        body = self.api("query", query=expr)
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        return body["data"]["result"]

    def logs(self):
        with open(self.log, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@unittest.skipUnless(shutil.which("prometheus") and shutil.which("promtool"),
                     "needs Debian's prometheus (scripts/install-deps.sh installs it)")
class MonitoringTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-monitoring-")
        self.prom = None

    def tearDown(self):
        if self.prom:
            self.prom.stop()
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def test_prometheus_scrapes_every_component_and_the_shipped_queries_answer(self):
        self.assertEqual(subprocess.run(
            ["promtool", "check", "rules", os.path.join(MONITORING, "alerts.yml")],
            capture_output=True, text=True, timeout=60).returncode, 0)
        m = self.c.manager(extra={"metrics": {"addr": hostport(0)}})
        sched = self.c.scheduler(f"manager:\n  addr: {m.grpc_addr}\n  keepAliveInterval: 1s\n")
        # A store quota, so that the storage alert's basis is this test's, not the machine's disk.
        store = {"gc": {"capacity": "4GiB"}}
        seed = self.c.daemon("seed-0", sched, seed=True, extra={
            **store, "manager": {"addrs": [m.grpc_addr], "keepAliveInterval": "1s"}})
        peers = [self.c.daemon(f"peer-{i}", sched, extra=store) for i in range(2)]
        origin = self.c.origin()
        self.c.make_file("a.bin", 8 * MIB)
        self.c.make_file("preheat.bin", 2 * MIB)
        self.c.make_file("after.bin", 24 * MIB)

        # Traffic: a file from the seed to both peers, again from a peer's cache, a preheat job.
        for p in peers:
            p.dfget(origin.url("a.bin"), os.path.join(self.c.dir, f"a-{p.name}"))
        peers[0].dfget(origin.url("a.bin"), os.path.join(self.c.dir, "a-again"))
        token = m.signin()
        wait_for(lambda: m.request("GET", "/api/v1/seed-peers?state=active", token=token)[1],
                 timeout=30, what="the seed peer to be active in the manager")
        st, job, _ = m.request("POST", "/oapi/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": origin.url("preheat.bin")}},
            token=token)
        self.assertEqual(st, 200, job)
        self.assertEqual(m.wait_job(job["id"], token)["state"], "SUCCESS")

        # Prometheus with the documented scrape configuration, on this cluster's addresses.
        targets = {
            "dragonfly-manager": [hostport(metrics_port(m))],
            "dragonfly-scheduler": [hostport(metrics_port(sched))],
            "dragonfly-seed-peer": [hostport(seed.metrics_port)],
            "dragonfly-dfdaemon": [hostport(p.metrics_port) for p in peers],
        }
        scrape = documented_scrape_config()["scrape_configs"]
        self.assertEqual(sorted(j["job_name"] for j in scrape), sorted(targets))
        for job_config in scrape:
            job_config["static_configs"] = [{"targets": targets[job_config["job_name"]]}]
        self.prom = Prometheus(self.c.dir, scrape)
        prom = self.prom

        def all_up():
            up = prom.query('up{job=~"dragonfly-.*"}')
            return len(up) == 5 and all(s["value"][1] == "1" for s in up)

        wait_for(all_up, timeout=60, interval=0.5, what="every component scraped and up")

        # Every documented series is there (two scrapes in, so that rates have two samples).
        series = documented_series()
        self.assertGreater(len(series), 30)

        def has(name, kind):
            return prom.query(f"count({name}_count)" if kind == "histogram" else f"count({name})")

        wait_for(lambda: float(prom.query('min(count_over_time(up{job=~"dragonfly-.*"}[1m]))')
                               [0]["value"][1]) >= 3, timeout=30, interval=0.5,
                 what="three scrapes of every component")
        missing = [name for name, kind in series if not has(name, kind)]
        self.assertEqual(missing, [], "documented series Prometheus does not have")
        # The series carry what happened: the labels a dashboard splits by.
        sources = {s["metric"]["source"] for s in prom.query(
            "dragonfly_dfdaemon_download_task_duration_seconds_count")}
        self.assertTrue({"local_cache", "back_to_source"} <= sources, sources)
        self.assertTrue(sources & {"seed_peer", "remote_peer"}, sources)
        jobs = prom.query('dragonfly_manager_job_duration_seconds_count{type="preheat"}')
        self.assertEqual([s["metric"]["state"] for s in jobs], ["SUCCESS"])
        self.assertEqual(float(prom.query(
            'sum(dragonfly_dfdaemon_download_bytes_total{job="dragonfly-seed-peer",'
            'source="back_to_source"})')[0]["value"][1]), 10 * MIB)
        self.assertGreater(float(prom.query(
            "sum(dragonfly_dfdaemon_storage_used_bytes)")[0]["value"][1]), 8 * MIB * 3)
        self.assertGreater(float(prom.query(
            'sum(dragonfly_manager_requests_total{code="200"})')[0]["value"][1]), 0)

        # Every dashboard query is valid and answers.
        empty = []
        for name, title, expr in dashboard_queries():
            q = expr.replace("$__rate_interval", "5m").replace("$instance", ".+")
            if not prom.query(q):
                empty.append(f"{name} / {title}: {q}")
        self.assertEqual(empty, [], "dashboard queries with no data")

        # Every alert is valid and quiet on a healthy cluster.
        rules = alert_rules()
        self.assertEqual(len(rules), 10)
        firing = {a: prom.query(e) for a, e in rules.items()}
        self.assertEqual({a: r for a, r in firing.items() if r}, {},
                         "alerts firing on a healthy cluster")

        # An origin 404: the back-to-source failure alert's expression answers.
        r = peers[1].dfget(origin.url("missing.bin"), os.path.join(self.c.dir, "missing"),
                           check=False)
        self.assertNotEqual(r.returncode, 0)
        wait_for(lambda: prom.query(rules["DragonflyBackToSourceFailures"]), timeout=30,
                 interval=0.5, what="DragonflyBackToSourceFailures to answer")
        self.assertEqual(prom.query(rules["DragonflyDownloadFailures"]) != [], True)

        # The scheduler killed: it is down, and a peer fetching a new file goes to the origin.
        sched.kill()
        wait_for(lambda: prom.query(rules["DragonflySchedulerDown"]), timeout=30, interval=0.5,
                 what="DragonflySchedulerDown to answer")
        peers[0].dfget(origin.url("after.bin"), os.path.join(self.c.dir, "after"))
        wait_for(lambda: prom.query(rules["DragonflyPeersGoBackToSource"]), timeout=30,
                 interval=0.5, what="DragonflyPeersGoBackToSource to answer")
        # Prometheus evaluates the shipped rules itself too.
        groups = prom.api("rules")["data"]["groups"]
        self.assertEqual(sum(len(g["rules"]) for g in groups), 10)
        self.assertTrue(all(r["health"] == "ok" for g in groups for r in g["rules"]),
                        [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]])


if __name__ == "__main__":
    unittest.main()
