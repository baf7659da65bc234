"""What every binary offers an operator (issue #16): --version, --help with examples, the exit-code
table (docs/deploy.md), and `config defaults` / `config validate` for the binaries that read a
config file -- the printed defaults, fed back, validate."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from cluster import BIN, hostport

BINARIES = ["dfdaemon", "scheduler", "manager", "dfget", "dfctl", "dfcache", "dfcert", "dfinit"]
CONFIGURED = ["dfdaemon", "scheduler", "manager"]  # the services' YAML configs
# The clients' (dfget, dfctl and dfcache share dfget.yaml): optional, flags win over them.
CLIENTS = ["dfget", "dfctl", "dfcache", "dfinit", "dfcert"]


def run(binary, *args, **kw):
    return subprocess.run([os.path.join(BIN, binary), *args], capture_output=True, text=True,
                          timeout=60, **kw)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="df-cli-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_every_binary_tells_its_version_and_shows_examples(self):
        for b in BINARIES:
            r = run(b, "--version")
            self.assertEqual(r.returncode, 0, f"{b}: {r.stderr}")
            self.assertRegex(r.stdout.strip(), rf"^{b} \d+\.\d+\.\d+ \(commit ([0-9a-f]{{12}}|unknown),"
                                               r" built \d{4}-\d\d-\d\d\)$")
            r = run(b, "--help")
            self.assertEqual(r.returncode, 0, f"{b}: {r.stderr}")
            self.assertIn(f"Examples:\n  {b}", r.stdout)

    def test_exit_codes(self):
        for b in BINARIES:  # 2: bad flags, with the reason
            needed = ["http://127.0.0.1:1/f", "-O", "f"] if b == "dfget" else []
            r = run(b, *needed, "--no-such-flag")
            self.assertEqual(r.returncode, 2, f"{b}: {r.stdout} {r.stderr}")
            self.assertIn("Run with --help", r.stderr)
            if b in CONFIGURED:  # (the others first say which subcommand or argument is missing)
                self.assertIn("--no-such-flag", r.stderr)
        r = run("dfget", "http://127.0.0.1:1/f", "-O", os.path.join(self.dir, "f"),
                "--timeout", "soon")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--timeout", r.stderr)
        # 3: the dfdaemon cannot be reached; nothing is written.
        nosock = os.path.join(self.dir, "no.sock")
        out = os.path.join(self.dir, "out")
        for b, args in (("dfget", ["http://127.0.0.1:1/f", "-O", out]), ("dfctl", ["list"]),
                        ("dfcache", ["stat", "ab" * 32])):
            r = run(b, "-e", nosock, *args)
            self.assertEqual(r.returncode, 3, f"{b}: {r.stderr}")
            self.assertIn("dfdaemon is not running", r.stderr)
        self.assertFalse(os.path.exists(out))
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        r = run("dfctl", "health", "--addr", hostport(closed))
        self.assertEqual(r.returncode, 3, r.stderr)
        # The app's options after a subcommand are the app's (as a probe may write them).
        r = run("dfctl", "health", "-e", nosock)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_printed_defaults_validate_and_typos_are_named(self):
        for b in CONFIGURED + CLIENTS:
            r = run(b, "config", "defaults")
            self.assertEqual(r.returncode, 0, f"{b}: {r.stderr}")
            keys = [l for l in r.stdout.splitlines() if re.match(r"^\s*[a-zA-Z]+:", l)]
            comments = [l for l in r.stdout.splitlines() if re.match(r"^\s*# ", l)]
            self.assertGreaterEqual(len(comments), len(keys), f"{b}: every key has a comment")
            path = os.path.join(self.dir, f"{b}.yaml")
            with open(path, "w") as f:
                f.write(r.stdout)
            r = run(b, "config", "validate", path)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, f"{path}: valid"), r.stderr)
            # A misspelt key: exit 1 and the key named, on one line.
            with open(path, "r+") as f:
                text = re.sub(r"^(\w+):", r"\1x:", f.read(), count=1, flags=re.M)
                f.seek(0)
                f.write(text)
            r = run(b, "config", "validate", path)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertRegex(r.stderr, r"unknown config key '\w+x'")
            r = run(b, "config", "validate", os.path.join(self.dir, "missing.yaml"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("missing.yaml", r.stderr)
            r = run(b, "config", "validate")
            self.assertEqual(r.returncode, 2, r.stderr)

    def test_client_configs_fill_what_the_flags_leave_out(self):
        nosock = os.path.join(self.dir, "configured.sock")
        cfg = os.path.join(self.dir, "dfget.yaml")
        with open(cfg, "w") as f:
            f.write(f"endpoint: {nosock}\ntimeout: 30s\n")
        out = os.path.join(self.dir, "out")
        for b, args in (("dfget", ["http://127.0.0.1:1/f", "-O", out]), ("dfctl", ["list"]),
                        ("dfcache", ["stat", "ab" * 32])):
            r = run(b, "--config", cfg, *args)
            self.assertEqual(r.returncode, 3, f"{b}: {r.stderr}")
            self.assertIn(nosock, r.stderr, b)  # the config's socket
            other = os.path.join(self.dir, "flag.sock")
            r = run(b, "--config", cfg, "-e", other, *args)
            self.assertIn(other, r.stderr, b)  # the flag wins
        r = run("dfget", "--config", os.path.join(self.dir, "missing.yaml"), "http://x/f", "-O", out)
        self.assertEqual(r.returncode, 1, "a config named on the command line must exist")
        # dfinit: the registries from its config, a flag's list replacing them.
        with open(os.path.join(self.dir, "dfinit.yaml"), "w") as f:
            f.write("containerd:\n  registries: [\"harbor.example.com\"]\n  noDefault: true\n")
        certs = os.path.join(self.dir, "certs.d")
        r = run("dfinit", "--config", os.path.join(self.dir, "dfinit.yaml"), "containerd",
                "--dry-run", "--certs-dir", certs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("harbor.example.com/hosts.toml", r.stdout)
        self.assertNotIn("_default", r.stdout)
        r = run("dfinit", "--config", os.path.join(self.dir, "dfinit.yaml"), "containerd",
                "--dry-run", "--certs-dir", certs, "--registry", "quay.io")
        self.assertIn("quay.io/hosts.toml", r.stdout)
        self.assertNotIn("harbor.example.com", r.stdout)
        # dfcert: the CA's validity from its config.
        with open(os.path.join(self.dir, "dfcert.yaml"), "w") as f:
            f.write("caTTL: 48h\n")
        r = run("dfcert", "--config", os.path.join(self.dir, "dfcert.yaml"), "ca", "--out",
                os.path.join(self.dir, "ca"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(["openssl", "x509", "-noout", "-checkend", str(47 * 3600), "-in",
                            os.path.join(self.dir, "ca", "ca.crt")], capture_output=True)
        self.assertEqual(r.returncode, 0, "valid for 47 h more")
        r = subprocess.run(["openssl", "x509", "-noout", "-checkend", str(49 * 3600), "-in",
                            os.path.join(self.dir, "ca", "ca.crt")], capture_output=True)
        self.assertEqual(r.returncode, 1, "but not 49 h: the config's 48h")

    def test_validate_refuses_a_plaintext_port_off_loopback_as_a_start_would(self):
        for b, yaml in (("dfdaemon", "upload:\n  listen: 0.0.0.0:4005\n"),
                        ("scheduler", "server:\n  listen: 0.0.0.0:8002\n"),
                        ("manager", "server:\n  grpc:\n    addr: 0.0.0.0:65003\n")):
            path = os.path.join(self.dir, f"{b}-exposed.yaml")
            with open(path, "w") as f:
                f.write(yaml)
            r = run(b, "config", "validate", path)
            self.assertEqual(r.returncode, 1, f"{b}: {r.stdout}")
            self.assertIn("insecure", r.stderr)
            with open(path, "a") as f:
                f.write("security:\n  insecure: true\n")
            r = run(b, "config", "validate", path)
            self.assertEqual(r.returncode, 0, f"{b}: {r.stderr}")


if __name__ == "__main__":
    unittest.main()
