#!/usr/bin/env python3
"""What tracing costs a download when the collector is down or black-holing (issue #14).

One cluster on loopback: the origin, a scheduler, a seed peer holding the file (warmed first).
Each run starts a fresh peer and times `dfget` of the file from the seed peer, in three cases
that alternate run by run, each first in its round in turn (the machine's load drifts):

  off        the peer without tracing
  blackhole  tracing on (OTLP/gRPC, sample rate 1) to a collector that accepts the connection
             and never answers (build/tests/otlp_sink --blackhole)
  down       tracing on to a port where nothing listens (connection refused)

After each traced run the bench waits (untimed) until the peer's
dragonfly_tracing_spans_total{result="dropped"} rises: the spans were dropped, not delivered.

  flock /tmp/df-build.lock python3 bench/tracing_bench.py [--size-mb 1024] [--runs 3]
"""

import argparse
import datetime
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from cluster import BIN, TESTS, Cluster, sha256_file, wait_for  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_info  # noqa: E402

MIB = 1 << 20
CASES = ("off", "blackhole", "down")


def timed_dfget(daemon, url, out):
    os.sync()  # earlier runs' writeback is not this run's cost
    t0 = time.perf_counter()
    r = subprocess.run([os.path.join(BIN, "dfget"), url, "-O", out, "-e", daemon.socket],
                       capture_output=True, text=True, timeout=900)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"dfget failed: {r.stderr[-2000:]}")
    return dt


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when this returns: connections are refused


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3, help="runs per case")
    ap.add_argument("--quick", action="store_true", help="smoke: 64 MiB, 1 run per case")
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    if args.quick:
        args.size_mb, args.runs = 64, 1
    size = args.size_mb * MIB
    log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731

    c = Cluster(prefix="df-tracing-bench-")
    sink = subprocess.Popen([os.path.join(TESTS, "otlp_sink"), "--blackhole"],
                            stdout=subprocess.PIPE, text=True)
    ok = False
    times = {k: [] for k in CASES}
    dropped = {k: [] for k in CASES}
    try:
        grpc_port = dict(p.split("=") for p in sink.stdout.readline().split()[2:])["grpc"]
        endpoints = {"blackhole": f"127.0.0.1:{grpc_port}", "down": f"127.0.0.1:{closed_port()}"}
        origin = c.origin()
        log(f"writing {args.size_mb} MiB")
        want = sha256_file(c.make_file("big.bin", size))
        url = origin.url("big.bin")
        sched = c.scheduler()
        seed = c.daemon("seed", sched, seed=True)
        out = os.path.join(c.dir, "big.out")
        log("warming the seed peer")
        timed_dfget(seed, url, out)
        os.remove(out)
        for i in range(args.runs):
            for case in CASES[i % 3:] + CASES[:i % 3]:  # each case first in turn
                extra = {}
                if case != "off":
                    extra["tracing"] = {"endpoint": endpoints[case], "protocol": "grpc",
                                        "sampleRate": 1.0, "exportTimeout": "2s"}
                p = c.daemon(f"{case}-{i}", sched, extra=extra)
                dt = timed_dfget(p, url, out)
                remote = p.metric("dragonfly_dfdaemon_download_bytes_total",
                                  {"source": "remote_peer"})
                if remote != size:
                    raise RuntimeError(f"{p.name} got {remote} bytes from peers, want {size}")
                if i == 0 and sha256_file(out) != want:
                    raise RuntimeError(f"{p.name}: wrong sha256")
                os.remove(out)
                if case != "off":
                    wait_for(lambda: p.metric("dragonfly_tracing_spans_total",
                                              {"result": "dropped"}) > 0,
                             timeout=60, interval=0.2, what=f"{p.name} to drop its spans")
                n = p.metric("dragonfly_tracing_spans_total", {"result": "dropped"})
                times[case].append(dt)
                dropped[case].append(int(n))
                log(f"  {case} run {i}: {dt:.3f}s, spans dropped {int(n)}")
                p.kill(signal.SIGTERM)
                shutil.rmtree(p.home, ignore_errors=True)
        ok = True
    finally:
        sink.kill()
        sink.wait()
        if ok:
            c.stop()
        else:
            for p in c.procs:
                p.kill(signal.SIGTERM)
            print(f"[bench] cluster dir kept: {c.dir}", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        f"# Tracing overhead, {datetime.datetime.now().isoformat(timespec='minutes')}",
        "",
        machine_info(),
        "",
        f"`flock /tmp/df-build.lock python3 bench/tracing_bench.py --size-mb {args.size_mb} "
        f"--runs {args.runs}`: dfget of {args.size_mb} MiB from the seed peer on loopback, a fresh "
        "peer per run, the cases interleaved; median of the runs.",
        "",
        "| case | median | throughput | runs (s) | spans dropped per run |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for k in CASES:
        lines.append(f"| {k} | {med[k]:.3f} s | {size / MIB / med[k]:.0f} MiB/s | "
                     f"{', '.join(f'{t:.3f}' for t in times[k])} | "
                     f"{', '.join(str(d) for d in dropped[k])} |")
    lines += ["", "| ratio (wall time, traced / off) | value |", "| --- | ---: |"]
    for k in ("blackhole", "down"):
        lines.append(f"| {k} / off | {med[k] / med['off']:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir, f"tracing-{datetime.date.today().isoformat()}"
                        f"{'-quick' if args.quick else ''}.md")
    with open(path, "w") as f:
        f.write(report)
    log(f"written to {path}")


if __name__ == "__main__":
    main()
