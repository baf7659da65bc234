"""The Debian packages (issue #16), as a platform team would use them: built by cpack from the
project's build, installed with dpkg into a fresh Debian 12 root made by debootstrap (plus the
libraries they depend on and systemd, as on any Debian host), their units checked by
`systemd-analyze verify`, each service started from its unit's command line and packaged config as
the unit's user, and purged without a trace.

Nothing runs systemd as PID 1 here, so the test does for each unit what systemd would: it reads
User, Group, UMask, StateDirectory, RuntimeDirectory and ExecStart from the unit file, makes the
directories, sets NOTIFY_SOCKET and waits for the service's READY=1, and stops it with SIGTERM
(expecting STOPPING=1 and exit 0). The services run in a network namespace of their own, so the
packaged configs' fixed ports cannot collide with anything on the machine.

Needs root, debootstrap, cpack, chroot, ip and the Debian mirror (DF_DEBIAN_MIRROR, default
deb.debian.org). DF_DEBOOTSTRAP_CACHE=FILE.tgz keeps the bare root between local runs."""

import configparser
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest
import urllib.request

from cluster import BIN, ROOT, sha256_file

BUILD = os.path.dirname(BIN)
MIRROR = os.environ.get("DF_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ["dragonfly-dfdaemon", "dragonfly-scheduler", "dragonfly-manager"]
UNITS = {"dfdaemon": "dfdaemon.service", "scheduler": "dragonfly-scheduler.service",
         "manager": "dragonfly-manager.service"}
# What a purge may leave changed: caches, logs and package-manager state, and the shadow files'
# backups (useradd and userdel rewrite /etc/passwd- and friends).
VOLATILE = ("proc/", "dev/", "sys/", "run/", "tmp/", "var/cache/", "var/log/", "var/lib/apt/",
            "var/lib/dpkg/", "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-")


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 600),
                          **kw)


def snapshot(root):
    """Every path of the root (but VOLATILE ones) with its type, mode, owner and, for files, a
    digest of its content."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel.startswith(VOLATILE) or (rel + "/").startswith(VOLATILE):
                continue
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            seen[rel] = (st.st_mode, st.st_uid, st.st_gid, digest)
    return seen


def read_unit(root, unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    with open(os.path.join(root, "usr/lib/systemd/system", unit)) as f:
        parser.read_string(f.read())
    return parser["Service"]


class NotifySocket:
    """The socket systemd would give a Type=notify service: the datagrams it receives."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)
        self.sock.settimeout(60)

    def wait_for(self, what):
        while True:
            message = self.sock.recv(4096).decode()
            if what in message.split("\n"):
                return message


@unittest.skipUnless(os.geteuid() == 0, "needs root (chroot, mounts, network namespaces)")
class PackagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("debootstrap", "cpack", "chroot", "ip", "systemd-analyze", "dpkg-deb"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"needs {tool} (scripts/install-deps.sh installs it)")
        try:  # the root is made from the Debian mirror: without it there is nothing to test
            urllib.request.urlopen(f"{MIRROR}/dists/bookworm/Release", timeout=30).close()
        except OSError as e:
            raise unittest.SkipTest(f"the Debian mirror {MIRROR} cannot be reached: {e}")
        cls.dir = tempfile.mkdtemp(prefix="df-packages-")
        cls.root = os.path.join(cls.dir, "root")
        cls.netns = f"df-packages-{os.getpid()}"
        cls.procs = []
        cls.mounted = False
        try:
            cls.build_packages()
            cls.make_root()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def build_packages(cls):
        debs = os.path.join(cls.dir, "debs")
        r = sh(["cpack", "-G", "DEB", "-B", debs], cwd=BUILD)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.debs = sorted(os.path.join(debs, f) for f in os.listdir(debs) if f.endswith(".deb"))
        assert [os.path.basename(d).split("_")[0] for d in cls.debs] == sorted(PACKAGES), cls.debs

    @classmethod
    def make_root(cls):
        cache = os.environ.get("DF_DEBOOTSTRAP_CACHE")
        os.makedirs(cls.root)
        if cache and os.path.exists(cache):
            sh(["tar", "-C", cls.root, "-xzf", cache]).check_returncode()
        else:
            r = sh(["debootstrap", "--variant=minbase", "bookworm", cls.root, MIRROR],
                   timeout=900)
            assert r.returncode == 0, "debootstrap failed: " + r.stdout[-2000:] + r.stderr
            if cache:
                sh(["tar", "-C", cls.root, "-czf", cache, "."]).check_returncode()
        sh(["mount", "-t", "proc", "proc", os.path.join(cls.root, "proc")]).check_returncode()
        cls.mounted = True
        # What the packages depend on, and systemd (there on any Debian host; its
        # systemd-analyze checks the units against the root's own systemd).
        depends = set()
        for deb in cls.debs:
            fields = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
            depends.update(d.strip() for d in fields.split(",") if d.strip())
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "satisfy", "-y", "-qq", "--no-install-recommends",
                      ", ".join(sorted(depends | {"systemd"}))]):
            r = sh(["chroot", cls.root, *argv], env=env, timeout=900)
            assert r.returncode == 0, f"{argv}: {r.stdout[-2000:]} {r.stderr}"
        pkgdir = os.path.join(cls.root, "tmp", "debs")
        os.makedirs(pkgdir)
        for deb in cls.debs:
            shutil.copy(deb, pkgdir)
        sh(["ip", "netns", "add", cls.netns]).check_returncode()
        sh(["ip", "-n", cls.netns, "link", "set", "lo", "up"]).check_returncode()

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        sh(["ip", "netns", "del", cls.netns])
        if cls.mounted:
            sh(["umount", "-l", os.path.join(cls.root, "proc")])
        shutil.rmtree(cls.dir, ignore_errors=True)

    def chroot(self, *argv, user=None, **kw):
        """Runs argv in the root, inside the services' network namespace."""
        spec = ["--userspec", user] if user else []
        return sh(["ip", "netns", "exec", self.netns, "chroot", *spec, self.root, *argv], **kw)

    def start(self, name):
        """Starts the unit's ExecStart as systemd would; returns (process, its notify socket)."""
        unit = read_unit(self.root, UNITS[name])
        user, group = unit["User"], unit["Group"]
        uid = int(self.chroot("id", "-u", user).stdout)
        gid = int(self.chroot("getent", "group", group).stdout.split(":")[2])
        for key, base in (("StateDirectory", "var/lib"), ("RuntimeDirectory", "run")):
            if key in unit:
                path = os.path.join(self.root, base, unit[key])
                os.makedirs(path, exist_ok=True)
                os.chown(path, uid, gid)
                os.chmod(path, int(unit[key + "Mode"], 8))
        notify_dir = os.path.join(self.root, "run", "df-notify")
        os.makedirs(notify_dir, exist_ok=True)
        notify = NotifySocket(os.path.join(notify_dir, name))
        # Each ExecStartPre is a step systemd runs first, as the same user.
        pre = self.chroot(*unit["ExecStartPre"].split(), user=f"{user}:{group}")
        self.assertEqual(pre.returncode, 0, f"{name}: ExecStartPre: {pre.stderr}")
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "chroot", "--userspec", f"{user}:{group}",
             self.root, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
             f"NOTIFY_SOCKET=/run/df-notify/{name}", "sh", "-c",
             f'umask {unit["UMask"]} && exec "$@"', "unit", *unit["ExecStart"].split()],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        try:
            status = notify.wait_for("READY=1")
        except socket.timeout:
            with open(os.path.join(self.dir, f"{name}.log")) as f:
                self.fail(f"{name} did not tell systemd it is ready: {f.read()[-3000:]}")
        self.assertIn("STATUS=serving", status)
        return proc, notify

    def stop(self, name, proc, notify):
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        self.assertEqual(proc.wait(timeout=60), 0, f"{name} did not stop cleanly on SIGTERM")
        notify.sock.close()

    def test_install_start_as_the_units_say_and_purge(self):
        # Two users of the host: alice will be in the group "dragonfly", mallory not.
        for user in ("alice", "mallory"):
            self.chroot("useradd", "--create-home", user).check_returncode()
        before = snapshot(self.root)
        r = self.chroot("dpkg", "-i", *[f"/tmp/debs/{os.path.basename(d)}" for d in self.debs])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # A system user and group; configs from deploy/config, readable by the group only.
        passwd = self.chroot("getent", "passwd", "dragonfly").stdout.strip().split(":")
        self.assertLess(int(passwd[2]), 1000, "a system user")
        self.assertEqual(passwd[5:], ["/var/lib/dragonfly", "/usr/sbin/nologin"])
        gid = int(self.chroot("getent", "group", "dragonfly").stdout.split(":")[2])
        for name in ("dfdaemon", "scheduler", "manager"):
            path = os.path.join(self.root, "etc", "dragonfly", f"{name}.yaml")
            st = os.stat(path)
            self.assertEqual((oct(st.st_mode & 0o777), st.st_uid, st.st_gid), ("0o640", 0, gid))
            self.assertEqual(sha256_file(path),
                             sha256_file(os.path.join(ROOT, "deploy", "config", f"{name}.yaml")))
        for name in ("dfget", "dfinit", "dfcert"):  # the clients': no secrets, for every user
            st = os.stat(os.path.join(self.root, "etc", "dragonfly", f"{name}.yaml"))
            self.assertEqual((oct(st.st_mode & 0o777), st.st_uid), ("0o644", 0))

        # systemd's own check of the units, in the root (binaries, users, directives).
        r = sh(["systemd-analyze", "verify", f"--root={self.root}", *UNITS.values()])
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

        # The services, from their units.
        running = {name: self.start(name) for name in ("scheduler", "manager", "dfdaemon")}
        for addr in ("127.0.0.1:8002", "127.0.0.1:65003"):  # scheduler, manager (gRPC health)
            r = self.chroot("dfctl", "health", "--addr", addr)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "SERVING"), r.stderr)
        page = sh(["ip", "netns", "exec", self.netns, "curl", "-sS", "http://127.0.0.1:8080/"])
        self.assertIn("<title>Dragonfly", page.stdout, "the packaged console is served")
        secret = os.stat(os.path.join(self.root, "var/lib/dragonfly/manager.db.root-password"))
        self.assertEqual((oct(secret.st_mode & 0o777), secret.st_gid), ("0o600", gid))

        # dfget through the packaged daemon, as a user of the group; another user is shut out.
        self.chroot("usermod", "--append", "--groups", "dragonfly", "alice").check_returncode()
        origin_dir = os.path.join(self.dir, "origin")
        os.makedirs(origin_dir)
        with open(os.path.join(origin_dir, "f.bin"), "wb") as f:
            f.write(os.urandom(5 * 1024 * 1024))
        origin = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "python3", "-m", "http.server", "--bind",
             "127.0.0.1", "8765", "--directory", origin_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(origin)
        url = "http://127.0.0.1:8765/f.bin"
        r = sh(["ip", "netns", "exec", self.netns, "curl", "-sS", "--retry", "20",
                "--retry-connrefused", "--retry-delay", "0", "-o", "/dev/null", url])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.chroot("dfget", url, "-O", "/home/alice/f.bin", user="alice:alice")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = os.path.join(self.root, "home/alice/f.bin")
        self.assertEqual(sha256_file(got), sha256_file(os.path.join(origin_dir, "f.bin")))
        r = self.chroot("dfget", url, "-O", "/home/mallory/f.bin", user="mallory:mallory")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("permission denied", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "home/mallory/f.bin")))
        os.unlink(got)

        for name, (proc, notify) in running.items():
            self.stop(name, proc, notify)
        origin.terminate()
        origin.wait()

        # Purge: the root is as it was before the install.
        r = self.chroot("dpkg", "--purge", *PACKAGES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        after = snapshot(self.root)
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
        self.assertEqual((added, removed, changed), ([], [], []))


if __name__ == "__main__":
    unittest.main()
