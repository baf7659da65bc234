"""grpc.health.v1 on every gRPC port (issue #14): the manager's, the scheduler's, and a dfdaemon's
upload port and unix socket answer SERVING, asked with `dfctl health` (exit 0 when SERVING, like
grpc_health_probe); a daemon whose storage directory is gone answers NOT_SERVING until it is
back, and so does a daemon whose scheduler is gone; a manager whose PostgreSQL server is gone answers NOT_SERVING; an unknown service is not
found."""

import os
import subprocess
import unittest

import databases
from cluster import BIN, Cluster, hostport, wait_for


class HealthTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-health-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def health(self, *args):
        r = subprocess.run([os.path.join(BIN, "dfctl"), *args], capture_output=True, text=True,
                           timeout=30)
        return r.returncode, (r.stdout + r.stderr).strip()

    def test_every_grpc_port_reports_its_readiness(self):
        m = self.c.manager()
        sched = self.c.scheduler(f"manager:\n  addr: {m.grpc_addr}\n  keepAliveInterval: 1s\n")
        peer = self.c.daemon("peer-0", sched)
        upload = hostport(peer.match.group(2))
        for name, args in (("manager", ["health", "--addr", m.grpc_addr]),
                           ("scheduler", ["health", "--addr", sched.addr]),
                           ("dfdaemon upload port", ["health", "--addr", upload]),
                           ("dfdaemon socket", ["-e", peer.socket, "health"]),
                           ("the scheduler service by name",
                            ["health", "--addr", sched.addr, "--service",
                             "dragonfly.api.scheduler.Scheduler"])):
            self.assertEqual(self.health(*args), (0, "SERVING"), name)
        code, out = self.health("health", "--addr", sched.addr, "--service", "no.such.Service")
        self.assertEqual(code, 1, out)
        self.assertIn("unknown service", out)

        # The daemon loses its storage directory: not ready (on both of its ports), then ready
        # again once it is back.
        moved = peer.store + ".away"
        os.rename(peer.store, moved)
        try:
            wait_for(lambda: self.health("-e", peer.socket, "health") == (1, "NOT_SERVING"),
                     timeout=10, what="the daemon to report NOT_SERVING")
            self.assertEqual(self.health("health", "--addr", upload), (1, "NOT_SERVING"))
        finally:
            os.rename(moved, peer.store)
        wait_for(lambda: self.health("-e", peer.socket, "health") == (0, "SERVING"),
                 timeout=10, what="the daemon to report SERVING again")
        self.assertIn("storage directory", peer.logs())

        # Its scheduler gone: the daemon cannot join swarms and says so (every download would
        # go to the origin); once the scheduler is back and takes its announcement, ready again.
        sched.pin_port()
        sched.kill()
        wait_for(lambda: self.health("-e", peer.socket, "health") == (1, "NOT_SERVING"),
                 timeout=30, what="the daemon to report NOT_SERVING without a scheduler")
        sched.start()
        wait_for(lambda: self.health("-e", peer.socket, "health") == (0, "SERVING"),
                 timeout=30, what="the daemon to report SERVING with its scheduler back")
        self.assertIn("no scheduler has taken this host's announcement", peer.logs())

    def test_a_manager_without_its_database_is_not_serving(self):
        try:
            db = databases.Postgres()
        except databases.ServerNotInstalled as e:
            self.skipTest(str(e))
        self.addCleanup(db.kill)
        m = self.c.manager(database={"type": "postgres", "postgres": {
            "host": db.host, "port": db.port, "user": db.user, "password": db.password,
            "dbname": db.dbname}})
        self.assertEqual(self.health("health", "--addr", m.grpc_addr), (0, "SERVING"))
        db.kill()  # the database server is gone
        wait_for(lambda: self.health("health", "--addr", m.grpc_addr) == (1, "NOT_SERVING"),
                 timeout=30, what="the manager to report NOT_SERVING")


if __name__ == "__main__":
    unittest.main()
