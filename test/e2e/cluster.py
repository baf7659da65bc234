"""A local Dragonfly cluster of real processes on loopback, for end-to-end tests and demos.

Starts the test origin (tools/test_origin.py), a scheduler and dfdaemons (seed peer or normal
peers) as separate processes, each with its own temp directory, ephemeral ports and log file.
Ports are read from the one line each binary prints on stdout when it is serving.
"""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("DF_BIN_DIR", os.path.join(ROOT, "build", "bin"))
TESTS = os.environ.get("DF_TESTS_DIR", os.path.join(ROOT, "build", "tests"))  # test tools
# The loopback address every process of the harness listens on: "127.0.0.1", or "::1" for the
# IPv6-only runs (test/e2e/isolate.py --ipv6-only sets DF_E2E_HOST).
LOOPBACK = os.environ.get("DF_E2E_HOST", "127.0.0.1")


def url_host(host=None):
    """The host as it goes into a URL: IPv6 literals in brackets."""
    host = LOOPBACK if host is None else host
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def hostport(port, host=None):
    """"host:port" for a config or a URL authority ("[::1]:4000")."""
    return f"{url_host(host)}:{port}"


def read_start_line(proc, pattern, timeout=30.0, log=None):
    """Reads stdout lines until one matches `pattern`; returns the match."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode(errors="replace").splitlines():
                m = re.search(pattern, line)
                if m:
                    return m
        elif proc.poll() is not None:
            break
    detail = ""
    if log and os.path.exists(log):
        with open(log, errors="replace") as f:
            detail = f.read()[-2000:]
    raise RuntimeError(f"process did not start (want /{pattern}/): {buf!r} {detail}")


def metric(text, name, labels=None):
    """Sums the samples of metric `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            total += float(m.group(3))
    return total


def stop_process(owner, sig, timeout=15):
    """Sends `sig` to owner.proc (a Popen) if it runs and waits for it, SIGKILLing it after
    `timeout` s; sets owner.killed when `sig` is SIGKILL (a kill on purpose). Returns the exit
    code, None if there was no process."""
    proc = owner.proc
    if proc and proc.poll() is None:
        if sig == signal.SIGKILL:
            owner.killed = True
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode if proc else None


class Proc:
    def __init__(self, name, argv, workdir, pattern, env=None):
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.pattern = pattern
        self.env = env
        self.log = os.path.join(workdir, name + ".log")
        self.proc = None
        self.match = None
        self.killed = False  # SIGKILLed on purpose by a test

    def start(self):
        self.killed = False
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=logf,
                                     cwd=self.workdir, env=self.env)
        logf.close()
        self.match = read_start_line(self.proc, self.pattern, log=self.log)
        return self

    def kill(self, sig=signal.SIGKILL):
        """Stops the process; returns its exit code (None if it was not running)."""
        stop_process(self, sig)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode if self.proc else None

    def logs(self):
        with open(self.log, errors="replace") as f:
            return f.read()


class Origin(Proc):
    def __init__(self, workdir, root, tls=None, extra_args=(), name="origin", bind=None):
        self.bind = bind or LOOPBACK
        argv = ["python3", os.path.join(ROOT, "tools", "test_origin.py"), "--root", root,
                "--port", "0", "--bind", self.bind, *extra_args]
        if tls:
            argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        super().__init__(name, argv, workdir, r"origin listening on .*:(\d+)")
        self.root = root
        self.scheme = "https" if tls else "http"
        self.context = None
        if tls:
            import ssl
            self.context = ssl.create_default_context(cafile=tls[0])

    @property
    def port(self):
        return int(self.match.group(1))

    def url(self, name, host=None):
        return f"{self.scheme}://{hostport(self.port, host or self.bind)}/{name}"

    def stats(self):
        with urllib.request.urlopen(self.url("_stats", "localhost"), timeout=10,
                                    context=self.context) as r:
            return json.load(r)

    def reset(self):
        req = urllib.request.Request(self.url("_reset", "localhost"), method="POST")
        urllib.request.urlopen(req, timeout=10, context=self.context).read()


class Manager(Proc):
    """The manager with its embedded SQLite (or `database`, a dict for the database section)."""

    def __init__(self, workdir, name="manager", root_password="root-secret-1", database=None,
                 extra=None):
        self.home = os.path.join(workdir, name)
        os.makedirs(self.home, exist_ok=True)
        self.root_password = root_password
        cfg = {
            "server": {"rest": {"addr": hostport(0)}, "grpc": {"addr": hostport(0)},
                       "name": name},
            "database": database or {"type": "sqlite",
                                     "sqlite": {"path": os.path.join(self.home, "manager.db")}},
            "auth": {"rootPassword": root_password},
            # Tests preheat from origins and registries on loopback, which preheat refuses by
            # default (ManagerHardeningTest checks that).
            "job": {"pollInterval": "100ms", "lease": "3s",
                    "allowedNetworks": ["127.0.0.0/8", "::1/128"]},
            "keepAlive": {"interval": "1s", "timeout": "3s"},
            "log": {"level": "info"},
        }
        for section, values in (extra or {}).items():
            cfg.setdefault(section, {}).update(values)
        self.config_path = os.path.join(self.home, "manager.yaml")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        super().__init__(name, [os.path.join(BIN, "manager"), "--config", self.config_path],
                         workdir, r"manager started rest_port=(\d+) grpc_port=(\d+)")

    @property
    def rest_port(self):
        return int(self.match.group(1))

    @property
    def grpc_addr(self):
        return hostport(self.match.group(2))

    def request(self, method, path, body=None, token=None, headers=None, raw=None):
        """(status, parsed JSON or text, headers) of a REST call."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(f"http://{hostport(self.rest_port)}{path}", data=data,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, text, rh = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            status, text, rh = e.code, e.read().decode(), e.headers
        try:
            return status, json.loads(text), rh
        except ValueError:
            return status, text, rh

    def signin(self, name="root", password=None):
        st, body, _ = self.request("POST", "/api/v1/users/signin",
                                   {"name": name, "password": password or self.root_password})
        assert st == 200, (st, body)
        return body["token"]

    def wait_job(self, job_id, token, prefix="/oapi/v1/jobs", timeout=120):
        result = {}

        def done():
            st, body, _ = self.request("GET", f"{prefix}/{job_id}", token=token)
            assert st == 200, (st, body)
            result["job"] = body
            return body["state"] != "PENDING"

        wait_for(done, timeout=timeout, interval=0.2, what=f"job {job_id} to finish")
        return result["job"]


class Scheduler(Proc):
    def __init__(self, workdir, extra_yaml="", listen_host=None, name="scheduler"):
        """listen_host: what server.listen and metrics.listen bind (default LOOPBACK); `addr`
        names the scheduler with it."""
        self.listen_host = listen_host or LOOPBACK
        self.config_path = os.path.join(workdir, name + ".yaml")
        listen = hostport(0, self.listen_host)
        with open(self.config_path, "w") as f:
            f.write(f"server:\n  listen: '{listen}'\nmetrics:\n  listen: '{listen}'\n"
                    + extra_yaml)
        super().__init__(name, [os.path.join(BIN, "scheduler"), "--config", self.config_path],
                         workdir, r"scheduler listening on .*:(\d+)")

    def pin_port(self):
        """Makes a restart listen on the port it has now (as a restarted service does)."""
        with open(self.config_path) as f:
            text = f.read()
        with open(self.config_path, "w") as f:
            f.write(text.replace(f"listen: '{hostport(0, self.listen_host)}'\nmetrics",
                                 f"listen: '{self.addr}'\nmetrics", 1))

    @property
    def addr(self):
        return hostport(self.match.group(1), self.listen_host)

    def metric(self, name, labels=None):
        found = re.findall(r"metrics listening on \S*:(\d+)", self.logs())
        assert found, "the scheduler logged no metrics address"
        url = f"http://{hostport(found[-1], self.listen_host)}/metrics"  # of its last start
        with urllib.request.urlopen(url, timeout=10) as r:
            return metric(r.read().decode(), name, labels)


class Daemon(Proc):
    def __init__(self, workdir, name, scheduler_addr=None, seed=False, extra=None):
        self.home = os.path.join(workdir, name)
        os.makedirs(self.home, exist_ok=True)
        self.socket = os.path.join(self.home, "dfdaemon.sock")
        self.store = os.path.join(self.home, "store")
        cfg = {
            "host": {"hostname": name, "ip": LOOPBACK},
            "server": {"socketPath": self.socket},
            "seedPeer": {"enable": seed},
            "upload": {"listen": hostport(0), "rpcListen": hostport(0)},
            "storage": {"dir": self.store},
            "metrics": {"listen": hostport(0)},
            "proxy": {"listen": hostport(0)},
            "scheduler": {"addrs": [scheduler_addr] if scheduler_addr else [],
                          "announceInterval": "2s", "rpcTimeout": "2s"},
            "download": {"stallTimeout": "10s", "pieceTimeout": "10s"},
            "log": {"level": "info"},
        }
        for section, values in (extra or {}).items():
            cfg.setdefault(section, {}).update(values)
            for key in [k for k, v in cfg[section].items() if v is None]:
                del cfg[section][key]  # None: leave the key to the daemon's default
        self.config_path = os.path.join(self.home, "dfdaemon.yaml")
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        super().__init__(name, [os.path.join(BIN, "dfdaemon"), "--config", self.config_path],
                         workdir, r"dfdaemon started .*piece_port=(\d+) rpc_port=(\d+) "
                                  r"metrics_port=(\d+) proxy_port=(\d+)")

    @property
    def metrics_port(self):
        return int(self.match.group(3))

    @property
    def proxy_port(self):
        return int(self.match.group(4))

    def metrics(self):
        url = f"http://{hostport(self.metrics_port)}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    def metric(self, name, labels=None):
        return metric(self.metrics(), name, labels)

    def dfget(self, url, output, *args, check=True, timeout=300):
        argv = [os.path.join(BIN, "dfget"), url, "-O", output, "-e", self.socket, "-v", *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"dfget failed ({r.returncode}): {r.stderr}\n"
                                 f"--- {self.name} log ---\n{self.logs()[-3000:]}")
        return r

    def dfctl(self, *args):
        r = subprocess.run([os.path.join(BIN, "dfctl"), "-e", self.socket, *args],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"dfctl {args} failed: {r.stderr}")
        return r.stdout

    def dfget_async(self, url, output, *args):
        argv = [os.path.join(BIN, "dfget"), url, "-O", output, "-e", self.socket, "-v", *args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Cluster:
    """Owns a temp dir and every process started through it; stop() kills them all."""

    def __init__(self, prefix="df-e2e-", tls=False):
        """tls: make a cluster CA (bin/dfcert) and give every scheduler, daemon and manager
        started through this cluster a certificate of its role, named as it announces itself."""
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.procs = []
        self.origin_root = os.path.join(self.dir, "origin")
        os.makedirs(self.origin_root)
        self.pki = os.path.join(self.dir, "pki") if tls else None
        if tls:
            self.dfcert("ca", "--out", os.path.join(self.pki, "ca"))

    def dfcert(self, *args):
        r = subprocess.run([os.path.join(BIN, "dfcert"), *args], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"dfcert {args} failed: {r.stderr}")
        return r.stdout

    def certificate(self, role, name, ttl="2h", ca=None):
        """Issues a certificate (from this cluster's CA, or the CA in directory `ca`); the
        directory holding ca.crt, tls.crt and tls.key."""
        out = os.path.join(self.pki, f"{role}-{name}-{len(os.listdir(self.pki))}")
        self.dfcert("issue", "--ca", ca or os.path.join(self.pki, "ca"), "--role", role,
                    "--name", name, "--out", out, "--ttl", ttl)
        return out

    def security(self, role, name):
        """The `security` section for a component of `role` named `name` (None without TLS)."""
        if not self.pki:
            return None
        d = self.certificate(role, name)
        return {"caCert": os.path.join(d, "ca.crt"), "cert": os.path.join(d, "tls.crt"),
                "key": os.path.join(d, "tls.key")}

    def add(self, proc):
        self.procs.append(proc)
        return proc.start()

    def origin(self, tls=None, extra_args=(), bind=None, name="origin"):
        """tls: (cert, key) paths to serve HTTPS; extra_args go to tools/test_origin.py; bind:
        the address to listen on (default LOOPBACK)."""
        return self.add(Origin(self.dir, self.origin_root, tls, extra_args, name=name, bind=bind))

    def self_signed_cert(self, name="localhost"):
        """A self-signed certificate for `name` (and 127.0.0.1, ::1); returns (cert, key)."""
        cert = os.path.join(self.dir, "tls.crt")
        key = os.path.join(self.dir, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={name}", "-addext",
                        f"subjectAltName=DNS:{name},IP:127.0.0.1,IP:::1", "-keyout", key,
                        "-out", cert],
                       check=True, capture_output=True)
        return cert, key

    def manager(self, name="manager", **kw):
        sec = self.security("manager", name)
        if sec:
            kw["extra"] = {"security": sec, **(kw.get("extra") or {})}
        return self.add(Manager(self.dir, name, **kw))

    def scheduler(self, extra_yaml="", listen_host=None, name="scheduler"):
        # The name the scheduler tells the manager: host.hostname, by default the machine's.
        sec = self.security("scheduler", socket.gethostname())
        if sec:
            extra_yaml += "security: " + json.dumps(sec) + "\n"
        return self.add(Scheduler(self.dir, extra_yaml, listen_host, name))

    def daemon(self, name, scheduler=None, seed=False, extra=None):
        addr = scheduler.addr if isinstance(scheduler, Scheduler) else scheduler
        is_seed = seed or (extra or {}).get("seedPeer", {}).get("enable", False)
        sec = self.security("seed-peer" if is_seed else "daemon", name)
        if sec and "security" not in (extra or {}):
            extra = {**(extra or {}), "security": sec}
        return self.add(Daemon(self.dir, name, addr, seed, extra))

    def add_blob(self, repo, size):
        """A random blob of `size` bytes in the origin's registry layout
        (/v2/<repo>/blobs/sha256:<digest>): (hex digest, bytes)."""
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        d = os.path.join(self.origin_root, "v2", repo, "blobs")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "sha256:" + digest), "wb") as f:
            f.write(data)
        return digest, data

    def make_file(self, name, size):
        path = os.path.join(self.origin_root, name)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 8 << 20)
                f.write(os.urandom(n))
                left -= n
        return path

    def stop(self):
        """Stops every process with SIGTERM and returns the problems seen: a process that did
        not exit cleanly, or a sanitizer report in its log."""
        problems = []
        for p in reversed(self.procs):
            rc = p.kill(signal.SIGTERM)
            if p.killed or isinstance(p, Origin):
                continue
            log = p.logs() if os.path.exists(p.log) else ""
            if rc not in (0, None) or "Sanitizer" in log or "runtime error:" in log:
                problems.append(f"{p.name}: exit code {rc}\n{log[-4000:]}")
        if not problems and not os.environ.get("DF_E2E_KEEP"):  # DF_E2E_KEEP=1: for a post-mortem
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def wait_for(predicate, timeout=60.0, interval=0.05, what="condition"):
    """Polls `predicate` until true; the interval is a polling period, not a synchronisation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
