#!/usr/bin/env python3
"""Data-plane benchmark of a local Dragonfly cluster on loopback (python3 stdlib only).

One run measures, each case repeated --runs times (median reported):
  (a) dfget-remote  dfget on a fresh peer whose parent (the warmed seed peer) has the task
  (b) cache-hit     dfget again on the peer that already has the task
  (c) curl-nginx    curl from a local nginx serving the same file (baseline for a)
  (d) cp            cp of the peer's cached task data file (baseline for b)
  (e) tiny          1 KiB end to end (fresh task each time: ?i=N) and 1 KiB cache hit,
                    --tiny-runs times, median and p90 in ms
  (f) proxy-remote  curl -x through a fresh peer's HTTP proxy (X-Dragonfly-Use-P2P), the
                    file coming from the seed (baseline: c)
  (g) dfget-remote-tls  (a) in a second cluster with certificates (bin/dfcert): mutual TLS on
                    every port, the piece port included, encrypted by the kernel (kTLS) where
                    the tls module is loaded, else by OpenSSL in user space (baseline: a,
                    measured alternately with it)
All runs are warm (the page cache is not dropped). See bench/README.md.
"""

import argparse
import datetime
import glob
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from cluster import BIN, Cluster, sha256_file  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_info  # noqa: E402

MIB = 1 << 20
NGINX = "/usr/sbin/nginx"
CURL = "curl"


def timed(argv, timeout=900):
    """Runs argv; returns its wall time in seconds. Raises on a non-zero exit.

    Dirty pages of earlier runs are flushed first (outside the timed region) so that one
    run does not pay for the writeback of the previous one; the page cache stays warm."""
    os.sync()
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return dt, r


def dfget_argv(daemon, url, out):
    return [os.path.join(BIN, "dfget"), url, "-O", out, "-e", daemon.socket, "-v",
            "--no-progress"]


def rm(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """A non-daemon nginx serving `root` on a free loopback port, all state in a temp dir."""

    def __init__(self, root):
        self.root = root
        self.dir = tempfile.mkdtemp(prefix="df-bench-nginx-")
        self.port = free_port()
        self.proc = None

    def start(self):
        d = self.dir
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{}}
http {{
  sendfile on;
  tcp_nopush on;
  access_log off;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  types {{ application/octet-stream bin; }}
  server {{
    listen 127.0.0.1:{self.port};
    root {self.root};
  }}
}}
""")
        log = open(os.path.join(d, "stderr.log"), "wb")
        self.proc = subprocess.Popen([NGINX, "-p", d, "-c", conf, "-e", f"{d}/error.log"],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(d, "error.log"), errors="replace") as f:
            raise RuntimeError("nginx did not start: " + f.read()[-2000:])

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def task_data_file(daemon):
    """The largest cached task data file of a daemon (the big task)."""
    files = glob.glob(os.path.join(daemon.store, "*", "data"))
    if not files:
        raise RuntimeError(f"no task data under {daemon.store}")
    return max(files, key=os.path.getsize)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024, help="big file size in MiB")
    ap.add_argument("--runs", type=int, default=3, help="repetitions per big-file case")
    ap.add_argument("--tiny-runs", type=int, default=20, help="repetitions of the 1 KiB cases")
    ap.add_argument("--quick", action="store_true", help="smoke run: 64 MiB, 1 run, 5 tiny runs")
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the cluster temp dir")
    args = ap.parse_args()
    if args.quick:
        args.size_mb, args.runs, args.tiny_runs = 64, 1, 5
    size = args.size_mb * MIB
    runs = args.runs

    c = Cluster(prefix="df-bench-")
    tc = Cluster(prefix="df-bench-tls-", tls=True)
    nginx = None
    ok = False
    res = {}
    try:
        out_dir = os.path.join(c.dir, "out")
        os.makedirs(out_dir)
        out = os.path.join(out_dir, "big.out")
        log = lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)  # noqa: E731

        log(f"cluster in {c.dir}; writing {args.size_mb} MiB of random bytes")
        origin = c.origin()
        want = sha256_file(c.make_file("big.bin", size))
        c.make_file("tiny.bin", 1024)
        sched = c.scheduler()
        seed = c.daemon("seed", sched, seed=True)
        url = origin.url("big.bin")

        # Warm the seed: it downloads the task from the origin and keeps it.
        log("warming the seed peer")
        dt, _ = timed(dfget_argv(seed, url, out))
        log(f"  seed back-to-source: {dt:.2f}s ({size / MIB / dt:.0f} MiB/s)")
        rm(out)

        # The same cluster with certificates for (g), its origin serving the same file.
        os.link(os.path.join(c.origin_root, "big.bin"), os.path.join(tc.origin_root, "big.bin"))
        tls_origin = tc.origin()
        tls_sched = tc.scheduler()
        tls_seed = tc.daemon("seed", tls_sched, seed=True)
        tls_url = tls_origin.url("big.bin")
        dt, _ = timed(dfget_argv(tls_seed, tls_url, out))
        log(f"  TLS seed back-to-source: {dt:.2f}s")
        rm(out)

        def remote_run(cluster, scheduler, name, source_url):
            p = cluster.daemon(name, scheduler)
            rm(out)
            dt, r = timed(dfget_argv(p, source_url, out))
            remote = p.metric("dragonfly_dfdaemon_download_bytes_total", {"source": "remote_peer"})
            if remote != size:
                raise RuntimeError(f"{name} got {remote} bytes from remote peers, want {size}:"
                                   f" {r.stderr[-500:]}")
            if sha256_file(out) != want:
                raise RuntimeError(f"{name}: the output has the wrong sha256")
            return p, dt

        # (a) dfget from a remote peer: a fresh peer daemon each run; (g) the same with TLS,
        # alternately (the machine's load drifts). Each peer's data is deleted right after its
        # run, so that both cases write into recycled page-cache memory (first-touch memory of
        # this VM costs about 2 s per GiB more: see docs/benchmarks.md).
        peer = None
        times, tls_times, tls_paths = [], [], {}
        for i in range(runs):
            peer, dt = remote_run(c, sched, f"peer{i}", url)
            times.append(dt)
            log(f"  dfget-remote run {i}: {dt:.3f}s")
            if i + 1 < runs:  # the last one stays for (b)
                peer.kill(signal.SIGTERM)
                shutil.rmtree(peer.home, ignore_errors=True)
            tp, dt = remote_run(tc, tls_sched, f"tls-peer{i}", tls_url)
            for enc in ("kernel", "user_space"):
                n = tp.metric("dragonfly_dfdaemon_piece_tls_connections_total",
                              {"encryption": enc})
                tls_paths[enc] = tls_paths.get(enc, 0) + n
            if sum(tls_paths.values()) == 0:
                raise RuntimeError("the TLS peer made no TLS piece connection")
            tls_times.append(dt)
            log(f"  dfget-remote-tls run {i}: {dt:.3f}s")
            tp.kill(signal.SIGTERM)
            shutil.rmtree(tp.home, ignore_errors=True)
        res["dfget-remote"] = times
        res["dfget-remote-tls"] = tls_times
        res["tls-encryption"] = [k for k, v in tls_paths.items() if v > 0]

        # (b) local cache hit on the last peer.
        times = []
        for i in range(runs):
            rm(out)
            dt, r = timed(dfget_argv(peer, url, out))
            if "cache hit" not in r.stderr:
                raise RuntimeError(f"expected a cache hit: {r.stderr[-500:]}")
            times.append(dt)
            log(f"  cache-hit run {i}: {dt:.3f}s")
        if sha256_file(out) != want:
            raise RuntimeError("cache-hit output has the wrong sha256")
        res["cache-hit"] = times

        # (f) the same through the peer's HTTP proxy (curl -x, P2P forced): a fresh peer each run.
        times = []
        for i in range(runs):
            pp = c.daemon(f"proxy-peer{i}", sched)
            rm(out)
            dt, r = timed([CURL, "-s", "-f", "-x", f"http://127.0.0.1:{pp.proxy_port}",
                           "-H", "X-Dragonfly-Use-P2P: true", "-o", out, url])
            if pp.metric("dragonfly_dfdaemon_download_bytes_total",
                         {"source": "remote_peer"}) != size:
                raise RuntimeError(f"proxy-peer{i} did not get the file from the seed")
            times.append(dt)
            log(f"  proxy-remote run {i}: {dt:.3f}s")
            pp.kill(signal.SIGTERM)
            shutil.rmtree(pp.home, ignore_errors=True)
        if sha256_file(out) != want:
            raise RuntimeError("proxy output has the wrong sha256")
        res["proxy-remote"] = times

        # (c) baseline: curl from nginx serving the origin's file.
        nginx = Nginx(c.origin_root).start()
        times = []
        for i in range(runs):
            rm(out)
            dt, _ = timed([CURL, "-s", "-f", "-o", out, nginx.url("big.bin")])
            times.append(dt)
            log(f"  curl-nginx run {i}: {dt:.3f}s")
        if sha256_file(out) != want:
            raise RuntimeError("curl output has the wrong sha256")
        res["curl-nginx"] = times
        nginx.stop()
        nginx = None

        # (d) baseline: cp of the peer's cached task data file.
        data = task_data_file(peer)
        times = []
        for i in range(runs):
            rm(out)
            dt, _ = timed(["cp", data, out])
            times.append(dt)
            log(f"  cp run {i}: {dt:.3f}s")
        res["cp"] = times
        rm(out)

        # (e) 1 KiB: a new task each time (end to end through peer, scheduler, seed, origin),
        # then cache hits of one 1 KiB task.
        tiny_out = os.path.join(out_dir, "tiny.out")
        tiny_url = origin.url("tiny.bin")
        times = []
        for i in range(args.tiny_runs):
            rm(tiny_out)
            dt, _ = timed(dfget_argv(peer, f"{tiny_url}?i={i}", tiny_out))
            times.append(dt)
        res["tiny-e2e"] = times
        times = []
        for i in range(args.tiny_runs):
            rm(tiny_out)
            dt, r = timed(dfget_argv(peer, f"{tiny_url}?i=0", tiny_out))
            if "cache hit" not in r.stderr:
                raise RuntimeError(f"expected a 1 KiB cache hit: {r.stderr[-500:]}")
            times.append(dt)
        res["tiny-cache-hit"] = times
        log(f"  tiny: e2e median {statistics.median(res['tiny-e2e']) * 1e3:.1f} ms, "
            f"cache hit median {statistics.median(res['tiny-cache-hit']) * 1e3:.1f} ms")
        ok = True
    finally:
        if nginx is not None:
            nginx.stop()
        for cl in (c, tc):
            if args.keep or not ok:
                for p in cl.procs:
                    p.kill(signal.SIGTERM)
            else:
                cl.stop()
        if not ok or args.keep:
            print(f"[bench] cluster dir kept: {c.dir}", file=sys.stderr)

    report = render(res, args, size)
    print(report)
    os.makedirs(args.results_dir, exist_ok=True)
    path = os.path.join(args.results_dir,
                        f"dataplane-{datetime.date.today().isoformat()}"
                        f"{'-quick' if args.quick else ''}.md")
    with open(path, "w") as f:
        f.write(report)
    print(f"[bench] written to {path}", file=sys.stderr)


def render(res, args, size):
    mib = size / MIB
    med = {k: statistics.median(v) for k, v in res.items() if k != "tls-encryption"}
    tput = {k: mib / med[k]
            for k in ("dfget-remote", "dfget-remote-tls", "proxy-remote", "cache-hit",
                      "curl-nginx", "cp")}
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    argv = " ".join(["python3", "bench/dataplane.py"] + sys.argv[1:])
    lines = [
        f"# Data-plane benchmark, {now}",
        "",
        f"Machine: {machine_info()}. Command: `{argv}`. "
        f"File: {args.size_mb} MiB random bytes, loopback, warm page cache (not dropped; `sync` "
        f"before each timed run); "
        f"median of {args.runs} run(s) per case.",
        "",
        "| case | median wall time | throughput | runs (s) |",
        "| --- | ---: | ---: | --- |",
    ]
    names = {
        "dfget-remote": "(a) dfget from remote peer (seed)",
        "dfget-remote-tls": "(g) the same with mutual TLS everywhere (piece port: "
                            + "/".join(res["tls-encryption"]) + " encryption)",
        "proxy-remote": "(f) curl through the dfdaemon proxy, from remote peer (seed)",
        "cache-hit": "(b) dfget local cache hit",
        "curl-nginx": "(c) baseline: curl from nginx",
        "cp": "(d) baseline: cp of cached task data",
    }
    for k, label in names.items():
        lines.append(f"| {label} | {med[k]:.3f} s | {tput[k]:.0f} MiB/s | "
                     + ", ".join(f"{t:.3f}" for t in res[k]) + " |")
    te, th = res["tiny-e2e"], res["tiny-cache-hit"]
    lines.append(f"| (e) 1 KiB dfget, new task each time ({len(te)} runs) | "
                 f"{statistics.median(te) * 1e3:.1f} ms (p90 {percentile(te, 90) * 1e3:.1f} ms)"
                 f" | | min {min(te) * 1e3:.1f} ms, max {max(te) * 1e3:.1f} ms |")
    lines.append(f"| (e) 1 KiB dfget cache hit ({len(th)} runs) | "
                 f"{statistics.median(th) * 1e3:.1f} ms (p90 {percentile(th, 90) * 1e3:.1f} ms)"
                 f" | | min {min(th) * 1e3:.1f} ms, max {max(th) * 1e3:.1f} ms |")
    r_remote = tput["dfget-remote"] / tput["curl-nginx"]
    r_tls = tput["dfget-remote-tls"] / tput["dfget-remote"]
    r_hit = tput["cache-hit"] / tput["cp"]
    r_proxy = tput["proxy-remote"] / tput["curl-nginx"]
    tiny_ms = statistics.median(te) * 1e3
    mark = lambda good: "met" if good else "MISSED"  # noqa: E731
    lines += [
        "",
        "| ratio (throughput, higher is better) | value | target | |",
        "| --- | ---: | ---: | --- |",
        f"| dfget-remote / curl-nginx | {r_remote:.2f} | >= 0.90 | {mark(r_remote >= 0.9)} |",
        f"| cache-hit / cp | {r_hit:.2f} | >= 0.95 | {mark(r_hit >= 0.95)} |",
        f"| proxy-remote / curl-nginx | {r_proxy:.2f} | (>= 0.90) | {mark(r_proxy >= 0.9)} |",
        f"| dfget-remote-tls / dfget-remote (TLS cost) | {r_tls:.2f} | (report) | |",
        f"| 1 KiB end to end, median | {tiny_ms:.1f} ms | <= 20 ms | {mark(tiny_ms <= 20)} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
