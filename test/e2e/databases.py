"""Real PostgreSQL and MariaDB servers for tests of the manager's database layer.

Python 3 stdlib only (plus the server and client programs: postgresql, mariadb-server;
scripts/install-deps.sh installs them). Each server gets a private data directory under a temp
directory, listens on 127.0.0.1 on a free port (and on a unix socket in its directory), and has
one database owned by one password-authenticated user:

    with Postgres() as pg:                      # or MariaDB()
        connect(pg.host, pg.port, pg.user, pg.password, pg.dbname)   # also pg.url, pg.info()

Start-up is about a second each: the data directory is initialised without fsync and the server
runs with durability off (fsync=off / innodb_flush_log_at_trx_commit=0), which is fine for tests
and wrong for anything else. Readiness is polled with real connections (pg_isready, mariadb -e).

PostgreSQL refuses to run as root, so under root initdb/postgres run as the `postgres` system
user (or `nobody`) with the data directory owned by it; MariaDB runs as the caller
(`--user=root` under root).

Command line, for tests in other languages (db_test.cc uses it):

    python3 test/e2e/databases.py postgres|mariadb [--workdir DIR]

starts one server, prints one JSON line
{"dialect", "server", "host", "port", "user", "password", "dbname", "socket", "url"} on stdout,
keeps it running until stdin closes or SIGTERM/SIGINT arrives, then stops it and removes its
files. Exits 77 (the automake "skipped" code) when the server programs are not installed.
"""

import glob
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

SKIP_EXIT_CODE = 77
START_TIMEOUT = 60.0
BIND_ATTEMPTS = 5


class ServerNotInstalled(RuntimeError):
    """The server programs are missing (the caller may skip instead of failing)."""


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, release it). Racy:
    the servers below retry with a new port when theirs fails to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(*names, dirs=()):
    for name in names:
        for d in dirs:
            path = os.path.join(d, name)
            if os.access(path, os.X_OK):
                return path
        path = shutil.which(name)
        if path:
            return path
    return None


def _tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def _traversable_by(path, uid, gids):
    """Whether user `uid` (groups `gids`) can reach `path`: every ancestor searchable."""
    path = os.path.realpath(path)
    while True:
        st = os.stat(path)
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in gids:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


class _Server:
    """Common lifecycle: private directory, port retries, readiness polling, kill()."""

    dialect = ""
    server = ""

    def __init__(self, workdir=None, user="dragonfly", dbname="dragonfly", password=None):
        if not user.isidentifier() or not dbname.isidentifier():
            raise ValueError("user and dbname must be plain identifiers")
        self.host = "127.0.0.1"
        self.port = 0
        self.user = user
        self.password = password or secrets.token_hex(12)
        self.dbname = dbname
        self.socket = ""  # unix socket (PostgreSQL: its directory)
        self.proc = None
        self.log = ""
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"df-{self.server}-")
        self.dir = ""
        try:
            self._start()
        except BaseException:
            self.kill()
            raise

    @property
    def url(self):
        return (f"{self.dialect}://{self.user}:{self.password}@{self.host}:{self.port}/"
                f"{self.dbname}")

    def info(self):
        return {"dialect": self.dialect, "server": self.server, "host": self.host,
                "port": self.port, "user": self.user, "password": self.password,
                "dbname": self.dbname, "socket": self.socket, "url": self.url}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def _spawn(self, argv, **kw):
        logf = open(self.log, "ab")
        try:
            # A session of its own: kill() can take down the server's children too.
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                    start_new_session=True, **kw)
        finally:
            logf.close()

    def _start(self):
        self._init_datadir()
        for attempt in range(BIND_ATTEMPTS):
            self.port = free_port()
            self.proc = self._launch()
            if self._wait_ready():
                self._create_db()
                return
            bind_race = self._bind_failed()
            self._stop_proc()
            if not bind_race or attempt + 1 == BIND_ATTEMPTS:
                raise RuntimeError(f"{self.server} did not start:\n{_tail(self.log)}")

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        delay = 0.02
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._ping():
                return True
            time.sleep(delay)  # polling interval, not a wait for a guessed start-up time
            delay = min(delay * 1.5, 0.2)
        return False

    def _bind_failed(self):
        text = _tail(self.log, 20000)
        return any(s in text for s in ("Address already in use", "could not bind",
                                       "Can't start server: Bind"))

    def _stop_proc(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, self.stop_signal)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        # Whatever is left of the server's session (children of a killed postmaster).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def kill(self):
        """Stops the server (no clean shutdown: the data is thrown away) and removes its files.
        Idempotent."""
        self._stop_proc()
        for d in (self.dir, self.workdir if self._own_workdir else ""):
            if d:
                shutil.rmtree(d, ignore_errors=True)
        self.dir = ""
        if self._own_workdir:
            self.workdir = ""

    def _run(self, argv, **kw):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r.stdout


class Postgres(_Server):
    dialect = "postgres"
    server = "postgres"
    stop_signal = signal.SIGQUIT  # immediate shutdown: the postmaster stops its children

    def _init_datadir(self):
        bindir = os.environ.get("DF_PG_BIN_DIR")
        if not bindir:
            found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                           key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit()
                           else 0)
            bindir = os.path.dirname(found[-1]) if found else ""
        self.bin = {n: _which(n, dirs=[bindir] if bindir else [])
                    for n in ("initdb", "postgres", "pg_isready", "psql")}
        missing = [n for n, p in self.bin.items() if not p]
        if missing:
            raise ServerNotInstalled(f"PostgreSQL programs not found: {', '.join(missing)} "
                                     "(apt-get install postgresql)")
        self.run_as = {}
        uid, gids = os.getuid(), set(os.getgroups())
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            uid = pw.pw_uid
            gids = {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}
            self.run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        parent = self.workdir
        if not _traversable_by(parent, uid, gids) or len(parent) > 60:
            parent = None  # the system temp dir: reachable by the server user, short socket paths
        self.dir = tempfile.mkdtemp(prefix="pg-", dir=parent)
        if self.run_as:
            os.chown(self.dir, self.run_as["user"], self.run_as["group"])
        self.socket = self.dir
        self.log = os.path.join(self.dir, "postgres.log")
        self.data = os.path.join(self.dir, "data")
        self._run([self.bin["initdb"], "-D", self.data, "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "-N"],
                  **self.run_as)

    def _launch(self):
        return self._spawn([self.bin["postgres"], "-D", self.data, "-p", str(self.port),
                            "-h", self.host, "-k", self.socket,
                            "-c", "fsync=off", "-c", "synchronous_commit=off",
                            "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
                            "-c", "max_connections=50", "-c", "logging_collector=off",
                            "-c", "unix_socket_permissions=0700"],
                           **self.run_as)

    def _ping(self):
        # Over TCP with the superuser: pg_isready only asks "do you accept connections".
        r = subprocess.run([self.bin["pg_isready"], "-q", "-h", self.host, "-p", str(self.port),
                            "-U", "postgres", "-d", "postgres", "-t", "1"],
                           stdin=subprocess.DEVNULL, capture_output=True)
        return r.returncode == 0

    def _create_db(self):
        # Separate -c options: CREATE DATABASE cannot run inside psql's implicit transaction.
        self._run([self.bin["psql"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket,
                   "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                   "-c", f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'",
                   "-c", f"CREATE DATABASE {self.dbname} OWNER {self.user} ENCODING 'UTF8'"],
                  **self.run_as)


class MariaDB(_Server):
    dialect = "mysql"
    server = "mariadb"
    stop_signal = signal.SIGKILL  # one process; the data is thrown away

    # Small and fast, not durable.
    TUNING = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
              "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
              "--innodb-use-native-aio=0"]

    def _init_datadir(self):
        sbin = ["/usr/sbin", "/usr/local/sbin"]
        self.bin = {"install_db": _which("mariadb-install-db", "mysql_install_db", dirs=sbin),
                    "server": _which("mariadbd", "mysqld", dirs=sbin),
                    "client": _which("mariadb", "mysql")}
        missing = [n for n, p in self.bin.items() if not p]
        if missing:
            raise ServerNotInstalled(f"MariaDB programs not found: {', '.join(missing)} "
                                     "(apt-get install mariadb-server)")
        parent = self.workdir if len(self.workdir) <= 60 else None  # socket paths are short
        self.dir = tempfile.mkdtemp(prefix="mariadb-", dir=parent)
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "mariadb.log")
        self.data = os.path.join(self.dir, "data")
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        self.user_args = ["--user=" + pwd.getpwuid(os.geteuid()).pw_name]
        self._run([self.bin["install_db"], "--no-defaults", "--datadir=" + self.data,
                   "--auth-root-authentication-method=normal", "--skip-test-db",
                   "--skip-name-resolve", "--tmpdir=" + self.tmp] + self.user_args + self.TUNING)

    def _launch(self):
        return self._spawn([self.bin["server"], "--no-defaults", "--datadir=" + self.data,
                            "--bind-address=" + self.host, "--port=" + str(self.port),
                            "--socket=" + self.socket, "--tmpdir=" + self.tmp,
                            "--pid-file=" + os.path.join(self.dir, "mariadb.pid"),
                            "--log-error=" + self.log, "--skip-log-bin", "--skip-name-resolve",
                            "--performance-schema=OFF", "--character-set-server=utf8mb4",
                            "--collation-server=utf8mb4_bin", "--max-connections=100"]
                           + self.user_args + self.TUNING)

    def _client(self, sql):
        return [self.bin["client"], "--no-defaults", "-uroot", "-S", self.socket,
                "--connect-timeout=2", "-e", sql]

    def _ping(self):
        r = subprocess.run(self._client("SELECT 1"), stdin=subprocess.DEVNULL,
                           capture_output=True)
        return r.returncode == 0

    def _create_db(self):
        self._run(self._client(
            f"CREATE DATABASE {self.dbname} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n"
            f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}';\n"
            f"GRANT ALL ON {self.dbname}.* TO '{self.user}'@'%';\n"))


SERVERS = {"postgres": Postgres, "mariadb": MariaDB}


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server", choices=sorted(SERVERS))
    ap.add_argument("--workdir", help="parent of the server's directory (default: a temp dir)")
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())

    def watch_stdin():
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        stop.set()

    try:
        srv = SERVERS[args.server](workdir=args.workdir)
    except ServerNotInstalled as e:
        print(f"databases.py: {e}", file=sys.stderr)
        return SKIP_EXIT_CODE
    except Exception as e:  # noqa: BLE001 - reported to the caller as a failed start
        print(f"databases.py: {e}", file=sys.stderr)
        return 1
    try:
        threading.Thread(target=watch_stdin, daemon=True).start()
        try:
            print(json.dumps(srv.info()), flush=True)
        except BrokenPipeError:
            return 1
        while not stop.wait(3600):
            pass
        return 0
    finally:
        srv.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
