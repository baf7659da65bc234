#!/usr/bin/env python3
"""Runs a local Dragonfly cluster on loopback and a P2P download through it.

Starts a sample origin, a manager (embedded SQLite), a scheduler and a seed peer that register
with it, and two peers that ask the manager for their scheduler (separate processes); then
downloads one file with dfget on both peers at once and reports, per peer, where its bytes came
from: the origin (back-to-source), the seed peer, or other peers; finally preheats a second file
into the seed peer through the manager's job API. Everything is torn down at the end (or on
Ctrl-C). Usage: tools/local_cluster.py [--size-mb N] [--keep]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "e2e"))
from cluster import Cluster, hostport, sha256_file, wait_for  # noqa: E402

MIB = 1 << 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--keep", action="store_true", help="keep the cluster running until Ctrl-C")
    args = ap.parse_args()
    c = Cluster(prefix="df-local-")
    try:
        print(f"cluster directory: {c.dir}")
        origin = c.origin()
        src = c.make_file("sample.bin", args.size_mb * MIB)
        want = sha256_file(src)
        m = c.manager()
        root = m.signin()
        sched = c.scheduler(f"manager:\n  addr: {m.grpc_addr}\n")
        manager = {"addrs": [m.grpc_addr]}
        seed = c.daemon("seed-peer", sched, seed=True, extra={"manager": manager})
        wait_for(lambda: len(m.request("GET", "/api/v1/seed-peers?state=active",
                                       token=root)[1]) == 1, timeout=30,
                 what="the seed peer registered with the manager")
        # The peers know only the manager; it hands them the scheduler.
        peers = [c.daemon(f"peer-{i}", extra={"manager": manager}) for i in (1, 2)]
        print(f"origin    http://{hostport(origin.port)}/sample.bin ({args.size_mb} MiB)")
        print(f"manager   http://{hostport(m.rest_port)} (user root, password "
              f"{m.root_password}; the web console is at that address; docs/manager.md)")
        print(f"scheduler {sched.addr}")
        for d in [seed] + peers:
            print(f"{d.name:9} socket {d.socket}  metrics http://{hostport(d.metrics_port)}/metrics")
        url = origin.url("sample.bin")
        outs = [os.path.join(c.dir, f"download-{p.name}.bin") for p in peers]
        start = time.monotonic()
        procs = [p.dfget_async(url, out) for p, out in zip(peers, outs)]
        for p, pr in zip(peers, procs):
            _, err = pr.communicate()
            if pr.returncode != 0:
                print(f"dfget on {p.name} failed: {err.strip()}", file=sys.stderr)
                return 1
        secs = time.monotonic() - start
        print(f"\nboth downloads finished in {secs:.2f} s\n")
        print(f"{'host':10} {'from origin':>14} {'from seed':>14} {'from peers':>14}  sha256 ok")
        for p, out in zip(peers, outs):
            b2s = p.metric("dragonfly_dfdaemon_download_bytes_total", {"source": "back_to_source"})
            remote = p.metric("dragonfly_dfdaemon_download_bytes_total", {"source": "remote_peer"})
            seeded = p.metric("dragonfly_dfdaemon_download_seed_peer_bytes_total")
            ok = sha256_file(out) == want
            print(f"{p.name:10} {b2s / MIB:11.1f} MiB {seeded / MIB:10.1f} MiB "
                  f"{(remote - seeded) / MIB:10.1f} MiB  {'yes' if ok else 'NO'}")
        served = origin.stats()["total_bytes"]
        print(f"\norigin served {served / MIB:.1f} MiB in total "
              f"({served / (args.size_mb * MIB):.2f} x the file size): the seed peer fetched it "
              f"once; the peers got it from the seed and from each other.")
        c.make_file("model.bin", 64 * MIB)
        start = time.monotonic()
        st, job, _ = m.request("POST", "/api/v1/jobs", {
            "type": "preheat", "args": {"type": "file", "url": origin.url("model.bin")}},
            token=root)
        job = m.wait_job(job["id"], root, prefix="/api/v1/jobs")
        hosts = [t["hostname"] for s in job["result"]["job_states"] for r in s["results"]
                 for t in r["success_tasks"]]
        print(f"\npreheat job {job['id']} (model.bin, 64 MiB): {job['state']} in "
              f"{time.monotonic() - start:.2f} s on {', '.join(hosts)}")
        if args.keep:
            print("\ncluster is running; Ctrl-C to stop")
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for problem in c.stop():
            print(problem, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
