"""The manager as the cluster CA (issue #11, "Authenticated components"): schedulers, seed peers
and daemons join with a bootstrap token, get a certificate of the token's role, renew it before it
expires, and a host without one (or with the wrong token) gets nothing. Real processes on
loopback; the attacker is build/tests/rogue_peer."""

import datetime
import json
import os
import stat
import subprocess
import unittest

from cluster import BIN, Cluster, sha256_file, wait_for
from piece_wire import TESTS_DIR

MIB = 1 << 20


def attack(*args):
    r = subprocess.run([os.path.join(TESTS_DIR, "rogue_peer"), *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode in (0, 3), r.stderr
    return r.stdout.strip()


def certificate(path):
    """(identity, expiry) of a PEM certificate file, as bin/dfcert shows them."""
    r = subprocess.run([os.path.join(BIN, "dfcert"), "show", path], capture_output=True,
                       text=True, timeout=30, check=True)
    identity, _, expires = r.stdout.split()
    return identity, datetime.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class ClusterCaTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-ca-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def start_manager(self, cert_ttl):
        home = os.path.join(self.c.dir, "manager")
        self.ca_cert = os.path.join(home, "ca.crt")
        self.m = self.c.manager(extra={"ca": {"cert": self.ca_cert,
                                              "key": os.path.join(home, "ca.key"),
                                              "certTTL": cert_ttl},
                                       "security": {"reloadInterval": "1s"}})
        self.root = self.m.signin()

    def token(self, role, name=None, expect=201):
        body = {"role": role, "description": f"e2e {role}"}
        if name:
            body["name"] = name
        st, out, _ = self.m.request("POST", "/api/v1/bootstrap-tokens", body, token=self.root)
        self.assertEqual(st, expect, out)
        return out.get("token") if isinstance(out, dict) else None

    def security(self, name, token):
        """The `security` section of a component that joins with `token`."""
        d = os.path.join(self.c.dir, "pki-" + name)
        os.makedirs(d, exist_ok=True)
        return {"caCert": self.ca_cert, "cert": os.path.join(d, "tls.crt"),
                "key": os.path.join(d, "tls.key"), "reloadInterval": "1s",
                "join": {"manager": self.m.grpc_addr, "token": token}}

    def start_cluster(self):
        """A scheduler, a seed peer and a daemon, each joined with a token of its role."""
        sched_sec = self.security("scheduler", self.token("scheduler"))
        sched = self.c.scheduler(
            extra_yaml=f"security: {json.dumps(sched_sec)}\n"
                       f"manager: {{addr: '{self.m.grpc_addr}', keepAliveInterval: 1s}}\n")
        seed_sec = self.security("seed", self.token("seed-peer", name="seed"))
        seed = self.c.daemon("seed", sched, seed=True, extra={"security": seed_sec})
        peer_sec = self.security("peer", self.token("daemon"))
        peer = self.c.daemon("peer", sched, extra={"security": peer_sec})
        return sched, seed, peer, {"scheduler": sched_sec, "seed": seed_sec, "peer": peer_sec}

    def download(self, peer, origin, name, want):
        out = os.path.join(self.c.dir, name + ".out")
        peer.dfget(origin.url(name), out)
        self.assertEqual(sha256_file(out), want)

    def test_components_join_with_a_token_of_their_role_and_attackers_get_nothing(self):
        self.start_manager("1h")
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("ca.bin", 6 * MIB))
        sched, seed, peer, secs = self.start_cluster()
        self.download(peer, origin, "ca.bin", want)  # all gRPC over TLS with issued certificates
        self.assertEqual(peer.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "back_to_source"}), 0)
        for name, role in (("scheduler", None), ("seed", "seed-peer"), ("peer", "daemon")):
            identity, _ = certificate(secs[name]["cert"])
            if role:
                self.assertEqual(identity, f"spiffe://dragonfly/{role}/{name}")
            else:
                self.assertTrue(identity.startswith("spiffe://dragonfly/scheduler/"), identity)
            self.assertEqual(stat.S_IMODE(os.stat(secs[name]["key"]).st_mode), 0o600)
        for p in (sched, seed, peer):
            self.assertNotIn("plaintext gRPC without authentication", p.logs(), p.name)
        # The scheduler registered with the manager over TLS, as itself.
        wait_for(lambda: "scheduler registered" in self.m.logs(), what="the scheduler's keepalive")

        addr = self.m.grpc_addr
        daemon_token = self.token("daemon")
        # Plaintext reaches nothing; TLS without a certificate reaches only Join.
        self.assertTrue(attack("join", addr, daemon_token, "daemon", "x").startswith("unreachable"))
        said = attack("--ca", self.ca_cert, "schedulers", addr, "rogue")
        self.assertTrue(said.startswith("refused UNAUTHENTICATED"), said)
        said = attack("--ca", self.ca_cert, "keepalive", addr, "seed", "rogue")
        self.assertTrue(said.startswith("refused UNAUTHENTICATED"), said)
        said = attack("--ca", self.ca_cert, "renew", addr)
        self.assertTrue(said.startswith("refused UNAUTHENTICATED"), said)
        # A daemon token is not a seed-peer or scheduler certificate; a pinned token is for its
        # name only; a made-up or wrong secret is refused.
        for role in ("seed-peer", "scheduler", "manager"):
            said = attack("--ca", self.ca_cert, "join", addr, daemon_token, role, "rogue")
            self.assertTrue(said.startswith("refused PERMISSION_DENIED"), (role, said))
        pinned = self.token("seed-peer", name="seed-2")
        said = attack("--ca", self.ca_cert, "join", addr, pinned, "seed-peer", "seed-3")
        self.assertTrue(said.startswith("refused PERMISSION_DENIED"), said)
        wrong = daemon_token[:7] + "0" * 16
        said = attack("--ca", self.ca_cert, "join", addr, wrong, "daemon", "rogue")
        self.assertTrue(said.startswith("refused UNAUTHENTICATED"), said)
        # The control: the daemon token gets a daemon certificate, which cannot act as a seed.
        said = attack("--ca", self.ca_cert, "join", addr, daemon_token, "daemon", "rogue")
        self.assertEqual(said, "accepted spiffe://dragonfly/daemon/rogue")
        # Tokens: root only, listed without their secrets, deleted tokens join nothing.
        st, listed, _ = self.m.request("GET", "/api/v1/bootstrap-tokens", token=self.root)
        self.assertEqual(st, 200, listed)
        self.assertNotIn(daemon_token.split(".")[1], json.dumps(listed))
        st, _, _ = self.m.request("POST", "/api/v1/users", {"name": "guest1",
                                                             "password": "guest-pass-1"},
                                  token=self.root)
        self.assertEqual(st, 200)
        guest = self.m.signin("guest1", "guest-pass-1")
        st, _, _ = self.m.request("POST", "/api/v1/bootstrap-tokens", {"role": "daemon"},
                                  token=guest)
        self.assertEqual(st, 403)
        st, _, _ = self.m.request("DELETE", f"/api/v1/bootstrap-tokens/{daemon_token[:6]}",
                                  token=self.root)
        self.assertEqual(st, 200)
        said = attack("--ca", self.ca_cert, "join", addr, daemon_token, "daemon", "rogue")
        self.assertTrue(said.startswith("refused UNAUTHENTICATED"), said)
        # A daemon with a bad token does not start, and says why.
        bad = self.security("bad", "abcdef.0123456789abcdef")
        with self.assertRaises(RuntimeError):
            self.c.daemon("bad", sched, extra={"security": bad})
        failed = self.c.procs.pop()
        self.assertNotEqual(failed.kill(), 0)
        self.assertIn("bootstrap token refused", failed.logs())
        self.assertFalse(os.path.exists(bad["cert"]))
        # The cluster still works for its members.
        want2 = sha256_file(self.c.make_file("ca2.bin", 3 * MIB))
        self.download(peer, origin, "ca2.bin", want2)

    def test_certificates_are_renewed_before_they_expire(self):
        """Certificates of 12 s, renewed at two thirds of their life: after the first ones have
        expired, new connections between every component still authenticate."""
        self.start_manager("12s")
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("renew.bin", 4 * MIB))
        sched, seed, peer, secs = self.start_cluster()
        first = {name: certificate(s["cert"]) for name, s in secs.items()}
        manager_cert = os.path.join(self.c.dir, "manager", "manager.crt")
        first["manager"] = certificate(manager_cert)
        deadline = max(expiry for _, expiry in first.values())
        # Waits until every first certificate has expired (a wall-clock condition).
        wait_for(lambda: datetime.datetime.now(datetime.timezone.utc) >
                 deadline + datetime.timedelta(seconds=2), timeout=60, interval=0.5,
                 what="the first certificates to expire")
        for name, s in list(secs.items()) + [("manager", {"cert": manager_cert})]:
            identity, expiry = certificate(s["cert"])
            self.assertEqual(identity, first[name][0], name)
            self.assertGreater(expiry, first[name][1], f"{name}'s certificate was not renewed")
        for p in (seed, peer, sched):
            self.assertIn("renewed a certificate", p.logs(), p.name)
        # New connections: a fresh daemon joins, and a download crosses scheduler, seed, peer.
        late = self.c.daemon("late", sched,
                             extra={"security": self.security("late", self.token("daemon"))})
        self.download(late, origin, "renew.bin", want)
        self.download(peer, origin, "renew.bin", want)
        self.assertEqual(late.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "back_to_source"}), 0)


if __name__ == "__main__":
    unittest.main()
