"""The piece mesh (issue #10), with real daemons on loopback: peers trade both ways and the seed
injects each piece about once; a neighbour that serves corrupt pieces is dropped and nothing
corrupt is delivered; a seed holds 200 connected neighbours (simulated by a test client that
speaks the piece protocol, each with the scheduler's grant) without refusing any."""

import os
import socket
import struct
import unittest

from cluster import Cluster, sha256_file, wait_for
from piece_wire import (BITFIELD, HAVE, HELLO, PIECE, REJECT, REQUEST, bitfield, connect, frame,
                        grants, hello, read_frame)

MIB = 1 << 20


class MeshTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-mesh-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], f"processes ended badly (logs kept in {self.c.dir})")

    def out(self, name):
        d = os.path.join(self.c.dir, "out")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def test_peers_trade_both_ways_and_the_seed_sends_about_one_copy(self):
        origin = self.c.origin()
        size = 64 * MIB  # 16 pieces
        want = sha256_file(self.c.make_file("mesh.bin", size))
        sched = self.c.scheduler()
        # Capped uploads (as links are in a cluster), so the pieces spread while everyone is
        # still downloading.
        capped = {"upload": {"rateLimit": "16MiB"}}
        seed = self.c.daemon("seed", sched, seed=True, extra=capped)
        peers = [self.c.daemon(f"peer{i}", sched, extra=capped) for i in range(4)]
        url = origin.url("mesh.bin")
        procs = [p.dfget_async(url, self.out(f"m{i}")) for i, p in enumerate(peers)]
        for i, pr in enumerate(procs):
            _, err = pr.communicate(timeout=600)
            self.assertEqual(pr.returncode, 0, err)
            self.assertEqual(sha256_file(self.out(f"m{i}")), want)
        self.assertLessEqual(origin.stats()["total_bytes"], 1.02 * size)
        seed_up = seed.metric("dragonfly_dfdaemon_upload_bytes_total")
        self.assertLessEqual(seed_up, 1.3 * size, f"the seed uploaded {seed_up / size:.2f} x:\n" +
                             seed.logs()[-2000:])
        # Every peer got bytes from the other peers, most peers also sent some: pieces flow
        # both ways between non-seed peers, and most of the copies come from them.
        from_peers_total, uploaders = 0, 0
        for p in peers:
            from_peers = (p.metric("dragonfly_dfdaemon_download_bytes_total",
                                   {"source": "remote_peer"}) -
                          p.metric("dragonfly_dfdaemon_download_seed_peer_bytes_total"))
            self.assertGreater(from_peers, 0, f"{p.name} got nothing from a non-seed peer:\n" +
                               "\n".join(q.logs()[-1500:] for q in peers + [seed]))
            from_peers_total += from_peers
            uploaders += p.metric("dragonfly_dfdaemon_upload_bytes_total") > 0
            self.assertEqual(p.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0)
        self.assertGreaterEqual(uploaders, 3, "peers that sent pieces to other peers")
        self.assertGreaterEqual(from_peers_total, 2 * size)

    def test_a_neighbour_serving_corrupt_pieces_is_dropped_and_nothing_corrupt_lands(self):
        origin = self.c.origin()
        size = 24 * MIB
        want = sha256_file(self.c.make_file("lie.bin", size))
        sched = self.c.scheduler()
        self.c.daemon("seed", sched, seed=True, extra={"upload": {"rateLimit": "8MiB"}})
        liar = self.c.daemon("liar", sched, extra={"testing": {"corruptUploadPieces": [0, 1, 2, 3]}})
        url = origin.url("lie.bin")
        liar.dfget(url, self.out("liar"))
        victim = self.c.daemon("victim", sched)
        victim.dfget(url, self.out("victim"))
        self.assertEqual(sha256_file(self.out("victim")), want)
        self.assertGreaterEqual(
            victim.metric("dragonfly_dfdaemon_piece_failures_total", {"reason": "corrupt"}), 1)
        self.assertRegex(victim.logs(), r"dropping neighbour .*neighbour=\S*liar")

    def test_a_seed_holds_200_neighbours_without_refusing_any(self):
        origin = self.c.origin()
        self.c.make_file("many.bin", 8 * MIB)
        sched = self.c.scheduler()
        seed = self.c.daemon("seed", sched, seed=True)
        url = origin.url("many.bin")
        seed.dfget(url, self.out("many"))
        task_id = seed.dfctl("list").split()[0]
        piece_port = int(seed.match.group(1))
        tokens = grants(sched.addr, task_id, url, [f"sim-{i}" for i in range(200)])
        conns = []
        try:
            for i in range(200):
                s = connect(piece_port)
                s.sendall(hello(task_id, f"sim-{i}", tokens[f"sim-{i}"]))
                conns.append(s)
            for i, s in enumerate(conns):
                kind, _ = read_frame(s)
                self.assertEqual(kind, HELLO, f"neighbour {i} was refused")
                kind, _ = read_frame(s)
                self.assertEqual(kind, BITFIELD)
            # A few of them fetch a piece: the seed serves them all.
            # (A seed hands each piece out once while the swarm lacks a copy: a second asker is
            # sent elsewhere with a suggestion, or served when it asks again.)
            for s in conns[::40]:
                s.sendall(frame(REQUEST, struct.pack("<I", 0)))
                kind, payload = read_frame(s)
                if kind == REJECT:
                    piece, code, suggestion = struct.unpack("<IBI", payload)
                    self.assertEqual(code, 2)
                    s.sendall(frame(REQUEST, struct.pack("<I", 0)))
                    kind, payload = read_frame(s)
                self.assertEqual(kind, PIECE)
                self.assertEqual(struct.unpack("<I", payload[:4])[0], 0)
            self.assertIn("OK", self.healthy(seed))
        finally:
            for s in conns:
                s.close()

    def test_a_neighbour_cannot_impose_a_geometry(self):
        """While a download does not know its task's size yet, neighbours that claim an absurd
        geometry (4 GiB of 1-byte pieces; HAVE of piece 2^27) are dropped: the daemon's memory
        stays flat, nothing is persisted, and the real download completes."""
        origin = self.c.origin()
        want = sha256_file(self.c.make_file("geo.bin", 8 * MIB))
        sched = self.c.scheduler()
        d = self.c.daemon("victim", sched)  # the first peer: back to source, after a delay
        url = origin.url("geo.bin") + "?hang=4"
        pr = d.dfget_async(url, self.out("geo"))
        listed = []
        wait_for(lambda: listed.extend(d.dfctl("list").split()[:1]) or listed,
                 what="the task in the store")
        task_id = listed[0]
        piece_port = int(d.match.group(1))
        # The attacker is a registered peer of the task: it has the scheduler's grant.
        token = grants(sched.addr, task_id, url, ["attacker"])["attacker"]

        def attack(*frames):
            with connect(piece_port, timeout=10) as s:
                s.sendall(hello(task_id, "attacker", token))
                self.assertEqual(read_frame(s)[0], HELLO)
                self.assertEqual(read_frame(s)[0], BITFIELD)
                for f in frames:
                    s.sendall(f)
                kinds = []
                try:
                    while True:  # the victim drops the link
                        kinds.append(read_frame(s)[0])
                except (ConnectionError, socket.timeout) as e:
                    self.assertIsInstance(e, ConnectionError, f"link left open: {kinds}")
                return kinds

        attack(bitfield((1 << 32) - 1, 1, (1 << 32) - 1))
        attack(bitfield(-1, 0, 0), frame(HAVE, struct.pack("<I", (1 << 27) - 1)))
        attack(bitfield(-1, 4 * MIB, 0, b"\xff" * ((1 << 20) // 8 + 8)))
        self.assertEqual(d.logs().count("dropping neighbour"), 3, d.logs()[-3000:])
        with open(f"/proc/{d.proc.pid}/status") as f:
            rss_kib = int(next(l for l in f if l.startswith("VmHWM:")).split()[1])
        self.assertLess(rss_kib, 256 * 1024, "the daemon's memory grew with the lie")
        _, err = pr.communicate(timeout=120)
        self.assertEqual(pr.returncode, 0, err)
        self.assertEqual(sha256_file(self.out("geo")), want)

    def healthy(self, d):
        import urllib.request
        from cluster import hostport
        with urllib.request.urlopen(f"http://{hostport(d.metrics_port)}/healthy", timeout=10) as r:
            return r.read().decode()


if __name__ == "__main__":
    unittest.main()
