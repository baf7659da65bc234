"""Processes of the cluster bench in network namespaces (bench/netns.py): a long-running
service, and the origins the hosts fetch from -- tools/test_origin.py over HTTP, or the tests'
S3-compatible store (test/servers/s3.js) holding the file."""

import json
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from cluster import read_start_line  # noqa: E402


def log(msg):
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class Service:
    """A long-running process in a namespace: stdout piped (start line), stderr to a log."""

    def __init__(self, topo, host, name, argv, workdir, ready_prefix, timeout=30):
        self.host, self.name = host, name
        self.log = os.path.join(workdir, f"{name}.log")
        logf = open(self.log, "ab")
        self.proc = topo.popen(host, argv, stdout=subprocess.PIPE, stderr=logf,
                               stdin=subprocess.DEVNULL, cwd=workdir)
        logf.close()
        try:
            self.line = read_start_line(self.proc, "^" + re.escape(ready_prefix), timeout,
                                        self.log).string
        except RuntimeError as e:
            raise BenchError(str(e)) from e
        # `ip netns exec` execs the command in place: the pid is the program's own.
        with open(f"/proc/{self.proc.pid}/comm") as f:
            self.comm = f.read().strip()

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=15):
        """SIGTERM, wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def http_get(topo, host, url, timeout=20):
    """GET from inside `host`'s namespace (the bridge is not reachable from the root one)."""
    r = topo.run(host, ["curl", "-s", "-f", "--max-time", str(timeout), url],
                 capture_output=True, text=True, timeout=timeout + 5)
    if r.returncode != 0:
        raise BenchError(f"GET {url} from {host} failed ({r.returncode}): {r.stderr}")
    return r.stdout


class Origin:
    def __init__(self, topo, workdir, root):
        self.topo = topo
        ip = topo.ip("origin")
        self.svc = Service(topo, "origin", "origin",
                           [sys.executable, os.path.join(ROOT, "tools", "test_origin.py"),
                            "--root", root, "--bind", ip, "--port", "0"],
                           workdir, "origin listening on")
        self.port = int(self.svc.line.rsplit(":", 1)[1])
        self.base = f"http://{ip}:{self.port}"

    def url(self, name):
        return f"{self.base}/{name}"

    def reset(self):
        self.topo.run("origin", ["curl", "-s", "-f", "-X", "POST", self.url("_reset")],
                      capture_output=True, check=True, timeout=20)

    def stats(self):
        return json.loads(http_get(self.topo, "origin", self.url("_stats")))

    curl_args = []  # what `curl` needs for url(name)
    daemon_overrides = {}  # what the dfdaemons need to fetch it

    def http_url(self, name):
        return self.url(name)


class S3Origin:
    """The "origin" host as an S3-compatible store (test/servers/s3.js, which checks AWS
    Signature V4) holding the file as bench/<name>: the daemons fetch s3://bench/<name>,
    curl fetches it signed (--aws-sigv4). Egress counts the GET bodies it served."""

    KEY, SECRET = "AKIDBENCH", "bench-secret-key"

    def __init__(self, topo, workdir, root):
        self.topo = topo
        ip = topo.ip("origin")
        self.request_log = os.path.join(workdir, "s3-requests.jsonl")
        self.svc = Service(topo, "origin", "s3",
                           ["node", os.path.join(ROOT, "test", "servers", "s3.js"), "--address",
                            ip, "--dir", os.path.join(workdir, "s3"), "--bucket", "bench",
                            "--key", f"{self.KEY}:{self.SECRET}", "--log", self.request_log],
                           workdir, "s3 listening on")
        self.base = f"http://{ip}:{int(self.svc.line.rsplit(':', 1)[1])}"
        self.curl_args = ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user",
                          f"{self.KEY}:{self.SECRET}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        self.daemon_overrides = {"backSource": {"s3": {
            "endpoint": self.base, "region": "us-east-1", "forcePathStyle": True,
            "accessKeyID": self.KEY, "secretAccessKey": self.SECRET}}}
        for name in sorted(os.listdir(root)):
            self.topo.run("origin", ["curl", "-s", "-f", *self.curl_args, "-T",
                                     os.path.join(root, name), self.http_url(name)],
                          capture_output=True, check=True, timeout=600)
        self.served_from = 0

    def url(self, name):
        return f"s3://bench/{name}"

    def http_url(self, name):
        return f"{self.base}/bench/{name}"

    def _rows(self):
        if not os.path.exists(self.request_log):
            return []
        with open(self.request_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def reset(self):
        self.served_from = len(self._rows())

    def stats(self):
        rows = self._rows()[self.served_from:]
        return {"total_bytes": sum(r.get("bytes", 0) for r in rows
                                   if r["method"] == "GET" and r["status"] in (200, 206))}
