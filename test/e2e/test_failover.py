"""Several schedulers, and the death of the one that owns a task (issue #12).

Two schedulers on loopback, a seed peer and four peers that each know both (scheduler.addrs,
as the manager's list would give them). Every peer of a task calls the scheduler that owns it on
a consistent-hash ring; when that scheduler is SIGKILLed mid-download, the downloads go on with
the neighbours they have, the peers and the seed register again with the next scheduler on the
ring, which rebuilds the task's swarm from them, and nobody goes back to the origin. A scheduler
that comes back takes its tasks back from the daemons' announcements.
"""

import os
import signal
import unittest

from cluster import Cluster, sha256_file, wait_for
from piece_wire import rogue

MIB = 1 << 20


def stat_task(scheduler, task_id):
    """(known, {hostname: line words}) of the task at `scheduler`, as its StatTask tells."""
    lines = rogue("stat-task", scheduler.addr, task_id).splitlines()
    assert lines and lines[0].startswith("accepted"), lines
    peers = {}
    for line in lines[1:]:
        words = line.split()
        peers.setdefault(words[2], []).append(words)
    return "known=1" in lines[0], peers


class SchedulerFailoverTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(prefix="df-failover-")

    def tearDown(self):
        problems = self.c.stop()
        self.assertEqual(problems, [], "\n".join(problems))

    def out(self, name):
        return os.path.join(self.c.dir, "out-" + name)

    def test_killing_the_owning_scheduler_loses_no_download_and_no_origin_request(self):
        origin = self.c.origin(extra_args=["--verbose"])
        size = 64 * MIB
        want = sha256_file(self.c.make_file("f.bin", size))
        # Throttled so that the kill lands mid-download: the seed needs ~8 s for it.
        url = origin.url("f.bin") + f"?slow={8 * MIB}"
        schedulers = [self.c.scheduler(name=f"scheduler-{i}") for i in range(2)]
        addrs = {"scheduler": {"addrs": [s.addr for s in schedulers]}}
        seed = self.c.daemon("seed", seed=True, extra=addrs)
        peers = [self.c.daemon(f"peer{i}", extra=addrs) for i in range(4)]
        for s in schedulers:
            wait_for(lambda: s.metric("dragonfly_scheduler_hosts") == 5,
                     what="every host announced to both schedulers")

        pulls = [p.dfget_async(url, self.out(p.name)) for p in peers]
        wait_for(lambda: any(s.metric("dragonfly_scheduler_tasks") >= 1 for s in schedulers),
                 what="the task registered")
        owner, other = (schedulers if schedulers[0].metric("dragonfly_scheduler_tasks") >= 1
                        else schedulers[::-1])
        self.assertEqual(other.metric("dragonfly_scheduler_tasks"), 0,
                         "both schedulers took the task: the peers do not agree on its owner")

        def traded():
            return sum(p.metric("dragonfly_dfdaemon_download_bytes_total",
                                {"source": "remote_peer"}) for p in peers)
        wait_for(lambda: traded() >= 8 * MIB, what="the peers to trade the first pieces")
        self.assertLess(traded(), 4 * size, "the downloads ended before the kill")
        task_id = peers[0].dfctl("list").split()[0]
        owner.kill(signal.SIGKILL)

        for p, pull in zip(peers, pulls):
            _, err = pull.communicate(timeout=180)
            self.assertEqual(pull.returncode, 0, f"{p.name}: {err}\n{p.logs()[-3000:]}")
            self.assertEqual(sha256_file(self.out(p.name)), want, p.name)
        self.assertEqual(origin.stats()["requests"].get("/f.bin"), 1,
                         "the origin was asked again after the failover")
        for p in peers:
            self.assertEqual(p.metric("dragonfly_dfdaemon_download_bytes_total",
                                      {"source": "back_to_source"}), 0, p.name)
        self.assertTrue(any("registering again" in p.logs() for p in peers),
                        "no download registered with the surviving scheduler")

        # The survivor rebuilt the task's swarm from the peers' registrations: it lists each of
        # them and the seed (the seed's running session, adopted when it was triggered again).
        known, listed = stat_task(other, task_id)
        self.assertTrue(known)
        for name in ["seed"] + [p.name for p in peers]:
            self.assertIn(name, listed, f"the surviving scheduler does not list {name}")
        self.assertTrue(any("seed" in words[5:] for words in listed["seed"]), listed["seed"])

        # A download started after the kill goes through the survivor, from the peers.
        late = self.c.daemon("late", extra=addrs)
        late.dfget(url, self.out("late"))
        self.assertEqual(sha256_file(self.out("late")), want)
        self.assertEqual(late.metric("dragonfly_dfdaemon_download_bytes_total",
                                     {"source": "remote_peer"}), size)
        self.assertEqual(origin.stats()["requests"].get("/f.bin"), 1)

        # The owner comes back (same address, no state): the daemons' calls for the task go to
        # it again, and they tell it which of them hold the task, without anyone downloading it.
        owner.pin_port()
        owner.start()

        def owner_lists_holders():
            known, listed = stat_task(owner, task_id)
            return known and all(p.name in listed for p in peers)
        wait_for(owner_lists_holders, timeout=60,
                 what="the restarted scheduler to learn the task's holders")
        again = self.c.daemon("again", extra=addrs)
        again.dfget(url, self.out("again"))
        self.assertEqual(sha256_file(self.out("again")), want)
        self.assertEqual(origin.stats()["requests"].get("/f.bin"), 1)
        self.assertGreaterEqual(owner.metric("dragonfly_scheduler_register_peer_total"), 1)


if __name__ == "__main__":
    unittest.main()
