"""TLS on the piece port (issue #11, "Authenticated components"): with certificates, a daemon's
piece port speaks mutually authenticated TLS, takes only daemon and seed-peer certificates of the
cluster CA, and still serves a task only under the scheduler's grant. The attacker is a raw
client (Python's ssl) against real daemons on loopback."""

import hashlib
import os
import socket
import ssl
import unittest

from cluster import Cluster, sha256_file
from piece_wire import ERROR, HELLO, UNAUTHORIZED, connect, decode_error, grants, hello, read_frame

MIB = 1 << 20


class PiecePortTlsTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-piece-tls-", tls=True)

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def tls_connect(self, port, cert_dir=None, ca=None):
        """A TLS connection to the piece port, presenting the certificate in `cert_dir` (none:
        no client certificate), checking the server against `ca` (default: the cluster's)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(ca or os.path.join(self.c.pki, "ca", "ca.crt"))
        if cert_dir:
            ctx.load_cert_chain(os.path.join(cert_dir, "tls.crt"), os.path.join(cert_dir, "tls.key"))
        return ctx.wrap_socket(connect(port, timeout=10))

    def test_the_piece_port_takes_only_cluster_peers_over_tls_and_still_needs_a_grant(self):
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("tls.bin", 6 * MIB))
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        holder = self.c.daemon("holder", sched)
        url = origin.url("tls.bin")
        out = os.path.join(self.c.dir, "tls.out")
        holder.dfget(url, out)  # pieces from the seed over TLS
        self.assertEqual(sha256_file(out), want)
        self.assertEqual(holder.metric("dragonfly_dfdaemon_download_bytes_total",
                                       {"source": "remote_peer"}), 6 * MIB)
        task_id = hashlib.sha256((url + "STANDARD").encode()).hexdigest()
        port = int(holder.match.group(1))

        # Plaintext: the server only speaks TLS; no piece-protocol frame comes back.
        with connect(port, timeout=10) as s:
            s.sendall(hello(task_id, "thief"))
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            self.assertTrue(got == b"" or got[:1] == b"\x15", got[:16])  # nothing, or a TLS alert

        # TLS without a client certificate, with one of another CA, or of a role that does not
        # trade pieces: the handshake fails.
        other_ca = os.path.join(self.c.dir, "other-ca")
        self.c.dfcert("ca", "--out", other_ca)
        refused = {
            "no certificate": None,
            "another CA": self.c.certificate("daemon", "thief", ca=other_ca),
            "scheduler role": self.c.certificate("scheduler", "thief"),
        }
        for why, cert in refused.items():
            with self.assertRaises(ssl.SSLError, msg=why):
                self.tls_connect(port, cert)
        # A server of another CA is not trusted by the client either.
        with self.assertRaises(ssl.SSLError):
            self.tls_connect(port, self.c.certificate("daemon", "thief"),
                             ca=os.path.join(other_ca, "ca.crt"))

        # A daemon certificate of the cluster gets TLS, but no task without the scheduler's grant.
        thief = self.c.certificate("daemon", "rogue")
        with self.tls_connect(port, thief) as s:
            s.sendall(hello(task_id, "thief"))
            kind, payload = read_frame(s)
            self.assertEqual(kind, ERROR)
            code, message = decode_error(payload)
            self.assertEqual(code, UNAUTHORIZED)
            self.assertIn("no piece token", message)
        # The control: with a grant from the scheduler, the same connection is served.
        grant = grants(sched.addr, task_id, url, ["thief"], tls=thief)["thief"]
        with self.tls_connect(port, thief) as s:
            s.sendall(hello(task_id, "thief", grant))
            self.assertEqual(read_frame(s)[0], HELLO)
        # Every piece connection was TLS, encrypted by the kernel where it can (kTLS) or in user
        # space (this machine may lack the tls module).
        for d in (seed, holder):
            self.assertGreater(d.metric("dragonfly_dfdaemon_piece_tls_connections_total"), 0,
                               d.name)


if __name__ == "__main__":
    unittest.main()
