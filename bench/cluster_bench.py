#!/usr/bin/env python3
"""Many-host cluster benchmark: hosts as network namespaces with capped links (python3 stdlib).

    flock /tmp/df-build.lock python3 bench/cluster_bench.py     # 8 hosts, 25 MB/s, 256 MiB
    flock /tmp/df-build.lock python3 bench/cluster_bench.py --hosts 16 --size-mb 512
    python3 bench/cluster_bench.py --smoke                      # CI: 3 hosts, 16 MiB

One topology (bench/netns.py): an "origin" host serving a random file (tools/test_origin.py),
a "seed" host with the scheduler (port 8002) and a seed-peer dfdaemon, and h1..hN each with a
dfdaemon; every link is capped at --rate-mbytes MB/s (10^6 bytes) in each direction.
In that topology, one after the other:
  Dragonfly   `dfget URL -O out` on every host at once (released by one start gate)
  direct      `curl -s -f -o out URL` from the origin on every host at once
  BitTorrent  bench/bittorrent.py's run_bittorrent(topo, file_path, workdir), if that module exists
Per system: per-host completion times (p50, p90, max) from the common start instant, max against
the ideal (file size / per-host bandwidth), origin egress / file size; for Dragonfly also the CPU
seconds of the scheduler and all dfdaemons per GiB delivered to h1..hN and each daemon's peak RSS.
Every output is checked by sha256 after the timing. The Markdown table goes to stdout and to
bench/results/cluster-<date>-<hosts>x<rate>.md, the completion-time CDF to the .png beside it.
Needs root, iproute2 and curl. See bench/README.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import netns  # noqa: E402
from machine import machine_info  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "e2e"))
from cluster import metric as metric_sum  # noqa: E402  (Prometheus text: sum of a metric)
from cluster import read_start_line  # noqa: E402

BIN = os.environ.get("DF_BIN_DIR", os.path.join(ROOT, "build", "bin"))
MIB = 1 << 20
GIB = 1 << 30
SCHED_PORT = 8002
PIECE_PORT, RPC_PORT, METRICS_PORT = 4005, 4000, 4002
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- helpers -------------------------------------------------------------------------------

def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def make_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            b = os.urandom(min(left, 8 * MIB))
            h.update(b)
            f.write(b)
            left -= len(b)
    return h.hexdigest()


def cpu_seconds(pid):
    """utime + stime of a live process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def vm_hwm_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


# --- the cluster ---------------------------------------------------------------------------

class Service:
    """A long-running process in a namespace: stdout piped (start line), stderr to a log."""

    def __init__(self, topo, host, name, argv, workdir, ready_prefix, timeout=30):
        self.host, self.name = host, name
        self.log = os.path.join(workdir, f"{name}.log")
        logf = open(self.log, "ab")
        self.proc = topo.popen(host, argv, stdout=subprocess.PIPE, stderr=logf,
                               stdin=subprocess.DEVNULL, cwd=workdir)
        logf.close()
        try:
            self.line = read_start_line(self.proc, "^" + re.escape(ready_prefix), timeout,
                                        self.log).string
        except RuntimeError as e:
            raise BenchError(str(e)) from e
        # `ip netns exec` execs the command in place: the pid is the program's own.
        with open(f"/proc/{self.proc.pid}/comm") as f:
            self.comm = f.read().strip()

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=15):
        """SIGTERM, wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def daemon_config(home, host, ip, sched_ip, seed, upload_slots=None, overrides=None):
    cfg = {
        "host": {"hostname": host, "ip": ip},
        "server": {"socketPath": os.path.join(home, "dfdaemon.sock")},
        "seedPeer": {"enable": seed},
        "upload": {"listen": f"{ip}:{PIECE_PORT}", "rpcListen": f"{ip}:{RPC_PORT}"},
        "storage": {"dir": os.path.join(home, "store")},
        "metrics": {"listen": f"{ip}:{METRICS_PORT}"},
        "scheduler": {"addrs": [f"{sched_ip}:{SCHED_PORT}"]},
        "log": {"level": "info"},
    }
    if upload_slots:
        cfg["upload"]["slots"] = upload_slots
    for section, values in (overrides or {}).items():
        cfg.setdefault(section, {}).update(values)
    path = os.path.join(home, "dfdaemon.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)  # JSON is YAML
    return path


def http_get(topo, host, url, timeout=20):
    """GET from inside `host`'s namespace (the bridge is not reachable from the root one)."""
    r = topo.run(host, ["curl", "-s", "-f", "--max-time", str(timeout), url],
                 capture_output=True, text=True, timeout=timeout + 5)
    if r.returncode != 0:
        raise BenchError(f"GET {url} from {host} failed ({r.returncode}): {r.stderr}")
    return r.stdout


class Origin:
    def __init__(self, topo, workdir, root):
        self.topo = topo
        ip = topo.ip("origin")
        self.svc = Service(topo, "origin", "origin",
                           [sys.executable, os.path.join(ROOT, "tools", "test_origin.py"),
                            "--root", root, "--bind", ip, "--port", "0"],
                           workdir, "origin listening on")
        self.port = int(self.svc.line.rsplit(":", 1)[1])
        self.base = f"http://{ip}:{self.port}"

    def url(self, name):
        return f"{self.base}/{name}"

    def reset(self):
        self.topo.run("origin", ["curl", "-s", "-f", "-X", "POST", self.url("_reset")],
                      capture_output=True, check=True, timeout=20)

    def stats(self):
        return json.loads(http_get(self.topo, "origin", self.url("_stats")))


# --- running one command on every host at once ---------------------------------------------

def run_all(topo, hosts, argv_of, logdir, tag, timeout, later=None, on_tick=None):
    """Starts argv_of(host) in every host's namespace behind a start gate, opens the gate for all
    at once and returns ({host: seconds from the gate}, {host: exit code}, {host: start}).

    Each command waits in `sh -c 'read _; exec ...'` until its stdin gets a line, so the
    fork/exec of the launcher is outside the timed region. later: {host: predicate()} -- those
    hosts' gates open when the predicate (checked every 0.2 s) first holds; on_tick() runs every
    0.2 s while commands run (scenario hooks)."""
    later = dict(later or {})
    procs = {}
    for h in hosts:
        logf = open(os.path.join(logdir, f"{tag}-{h}.log"), "wb")
        gated = ["sh", "-c", 'read _ && exec "$@"', "sh", *argv_of(h)]
        procs[h] = topo.popen(h, gated, stdin=subprocess.PIPE, stdout=logf, stderr=logf)
        logf.close()
    time.sleep(0.3)  # let every shell reach `read`
    done, codes, started = {}, {}, {}
    lock = threading.Lock()

    def wait(h, p):
        rc = p.wait()
        t = time.monotonic()
        with lock:
            done[h] = t
            codes[h] = rc

    threads = {h: threading.Thread(target=wait, args=(h, p), daemon=True)
               for h, p in procs.items()}
    for t in threads.values():
        t.start()

    def release(h, now):
        started[h] = now
        procs[h].stdin.write(b"go\n")
        procs[h].stdin.close()

    t0 = time.monotonic()
    for h in hosts:
        if h not in later:
            release(h, t0)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        with lock:
            if len(done) == len(procs):
                break
        for h, ready in list(later.items()):
            if ready():
                release(h, time.monotonic())
                del later[h]
        if on_tick:
            on_tick()
        time.sleep(0.2)
    for h in later:  # never released
        release(h, time.monotonic())
    timed_out = [h for h, p in procs.items() if p.poll() is None]
    for h in timed_out:
        try:
            os.killpg(procs[h].pid, signal.SIGKILL)
        except OSError:
            pass
        procs[h].wait()
    for t in threads.values():
        t.join(5)
    times = {h: done[h] - t0 for h in hosts if h in done and h not in timed_out}
    codes = {h: ("timeout" if h in timed_out else codes.get(h)) for h in hosts}
    starts = {h: started[h] - t0 for h in started}
    return times, codes, starts


# --- the systems ---------------------------------------------------------------------------

def downloaded_bytes(topo, h):
    """Bytes of task content the host's dfdaemon has stored (all sources), or 0."""
    try:
        text = http_get(topo, h, f"http://{topo.ip(h)}:{METRICS_PORT}/metrics", timeout=2)
    except BenchError:
        return 0
    return metric_sum(text, "dragonfly_dfdaemon_download_bytes_total")


def run_dragonfly(topo, hosts, origin, url, want_sha, work, timeout, upload_slots=None,
                  overrides=None, scenario="all", size=0):
    seed_ip = topo.ip("seed")
    res = {"name": "Dragonfly", "ok": False}
    services = []
    try:
        sched_dir = os.path.join(work, "scheduler")
        os.makedirs(sched_dir)
        cfg = os.path.join(sched_dir, "scheduler.yaml")
        with open(cfg, "w") as f:
            f.write(f"server:\n  listen: {seed_ip}:{SCHED_PORT}\n"
                    f"metrics:\n  listen: {seed_ip}:8000\nlog:\n  level: info\n")
        sched = Service(topo, "seed", "scheduler", [os.path.join(BIN, "scheduler"), "--config",
                                                    cfg], work, "scheduler listening on")
        services.append(sched)
        daemons = {}
        for h in ["seed"] + hosts:
            home = os.path.join(work, h)
            os.makedirs(home)
            path = daemon_config(home, h, topo.ip(h), seed_ip, seed=(h == "seed"),
                                 upload_slots=upload_slots, overrides=overrides)
            daemons[h] = Service(topo, h, f"dfdaemon-{h}",
                                 [os.path.join(BIN, "dfdaemon"), "--config", path], work,
                                 "dfdaemon started")
            services.append(daemons[h])
        log(f"scheduler + {len(daemons)} dfdaemons up (seed peer on {seed_ip})")

        outs = {h: os.path.join(work, h, "out.bin") for h in hosts}

        def argv(h):
            return [os.path.join(BIN, "dfget"), url, "-O", outs[h], "-e",
                    os.path.join(work, h, "dfdaemon.sock"), "-v", "--no-progress"]

        origin.reset()
        cpu0 = {s.name: cpu_seconds(s.pid) for s in services}
        ru0 = _children_cpu()
        later, on_tick, expect_fail = None, None, set()
        if scenario == "late":
            # Half the hosts start when the first half holds half the file on average.
            first, second = hosts[:len(hosts) // 2], hosts[len(hosts) // 2:]
            progress = lambda: sum(downloaded_bytes(topo, h) for h in first) / len(first)  # noqa
            gate = {"open": False}

            def half():
                gate["open"] = gate["open"] or progress() >= size / 2
                return gate["open"]
            later = {h: half for h in second}
        elif scenario == "churn":
            # The last host's dfdaemon is SIGKILLed when it holds half the file.
            victim = hosts[-1]
            expect_fail.add(victim)
            state = {"killed": False}

            def on_tick():
                if not state["killed"] and downloaded_bytes(topo, victim) >= size / 2:
                    state["killed"] = True
                    daemons[victim].proc.kill()
                    log(f"churn: SIGKILLed dfdaemon on {victim}")
        times, codes, starts = run_all(topo, hosts, argv, work, "dfget", timeout, later, on_tick)
        res["starts"] = starts
        res["expect_fail"] = sorted(expect_fail)
        cpu1 = {s.name: cpu_seconds(s.pid) if s.proc.poll() is None else cpu0[s.name]
                for s in services}
        ru1 = _children_cpu()
        res["origin_egress_bytes"] = origin.stats()["total_bytes"]
        res["times"], res["codes"] = times, codes
        res["cpu_by_proc"] = {k: cpu1[k] - cpu0[k] for k in cpu0}
        res["cpu_daemons_s"] = sum(res["cpu_by_proc"].values())
        res["cpu_dfget_s"] = ru1 - ru0
        log("dfget times: " + ", ".join(f"{h} {times.get(h, float('nan')):.2f}s"
                                        for h in hosts))
        # Where each host's bytes came from.
        per_host = {}
        for h in ["seed"] + hosts:
            try:
                text = http_get(topo, h, f"http://{topo.ip(h)}:{METRICS_PORT}/metrics")
            except BenchError as e:
                per_host[h] = {"error": str(e)}
                continue
            name = "dragonfly_dfdaemon_download_bytes_total"
            per_host[h] = {
                "back_to_source": metric_sum(text, name, {"source": "back_to_source"}),
                "remote_peer": metric_sum(text, name, {"source": "remote_peer"}),
                "seed_peer": metric_sum(text, "dragonfly_dfdaemon_download_seed_peer_bytes_total"),
                "uploaded": metric_sum(text, "dragonfly_dfdaemon_upload_bytes_total"),
                "piece_failures": metric_sum(text, "dragonfly_dfdaemon_piece_failures_total"),
            }
        res["per_host"] = per_host
        # Peak RSS just before stopping.
        res["rss"] = {s.name: vm_hwm_bytes(s.pid) for s in services if s.proc.poll() is None}
        res["stop_codes"] = {}
        for s in reversed(services):
            res["stop_codes"][s.name] = s.stop()
        services = []
        bad = [h for h in hosts if codes[h] != 0 and h not in expect_fail]
        if bad:
            raise BenchError(f"dfget failed on {', '.join(f'{h} ({codes[h]})' for h in bad)}")
        for h in expect_fail:  # the churn victim: not a survivor
            times.pop(h, None)
            if os.path.exists(outs[h]):
                os.unlink(outs[h])
        outs = {h: p for h, p in outs.items() if h not in expect_fail}
        wrong = [h for h in outs if sha256_file(outs[h]) != want_sha]
        if wrong:
            raise BenchError(f"dfget output has the wrong sha256 on {', '.join(wrong)}")
        for p in outs.values():
            os.unlink(p)
        res["ok"] = True
        return res
    except BenchError as e:
        res["error"] = str(e)
        return res
    finally:
        for s in reversed(services):
            s.stop(timeout=5)


def _children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_direct(topo, hosts, origin, url, want_sha, work, timeout, enabled=True):
    res = {"name": "direct (curl)", "ok": False}
    if not enabled:
        res["skipped"] = "not run (--no-direct)"
        return res
    d = os.path.join(work, "direct")
    os.makedirs(d)
    outs = {h: os.path.join(d, f"{h}.bin") for h in hosts}
    origin.reset()
    times, codes, _ = run_all(topo, hosts, lambda h: ["curl", "-s", "-f", "-o", outs[h], url],
                              d, "curl", timeout)
    res["origin_egress_bytes"] = origin.stats()["total_bytes"]
    res["times"], res["codes"] = times, codes
    log("curl times: " + ", ".join(f"{h} {times.get(h, float('nan')):.2f}s" for h in hosts))
    bad = [h for h in hosts if codes[h] != 0]
    if bad:
        res["error"] = f"curl failed on {', '.join(f'{h} ({codes[h]})' for h in bad)}"
        return res
    wrong = [h for h in hosts if sha256_file(outs[h]) != want_sha]
    if wrong:
        res["error"] = f"curl output has the wrong sha256 on {', '.join(wrong)}"
        return res
    for p in outs.values():
        os.unlink(p)
    res["ok"] = True
    return res


def run_bt(topo, file_path, work, enabled):
    res = {"name": "BitTorrent", "ok": False}
    if not enabled:
        res["skipped"] = "not run (--smoke / --no-bittorrent)"
        return res
    try:
        import bittorrent  # bench/bittorrent.py, written separately
    except ImportError as e:
        res["skipped"] = f"not run (bench/bittorrent.py not importable: {e})"
        return res
    d = os.path.join(work, "bittorrent")
    os.makedirs(d, exist_ok=True)
    try:
        out = bittorrent.run_bittorrent(topo, file_path, d)
    except Exception as e:  # another engineer's code: report, do not fail the Dragonfly run
        res["error"] = f"run_bittorrent raised {type(e).__name__}: {e}"
        return res
    res["times"] = dict(out.get("times") or {})
    res["origin_egress_bytes"] = out.get("origin_egress_bytes")
    res["ok"] = bool(res["times"])
    if not res["ok"]:
        res["error"] = "run_bittorrent returned no times"
    log("BitTorrent times: " + ", ".join(f"{h} {t:.2f}s" for h, t in sorted(res["times"].items())))
    return res


# --- report --------------------------------------------------------------------------------

def render(results, args, size, hosts, want_sha, chart_path):
    ideal = size / (args.rate_mbytes * 1e6)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    argv = " ".join(["python3", "bench/cluster_bench.py"] + sys.argv[1:])
    lines = [
        f"# Cluster benchmark (network namespaces), {now}",
        "",
        f"Machine: {machine_info()}. Command: `{argv}`.",
        f"Topology: {len(hosts)} hosts + origin + seed (scheduler and seed peer), every link "
        f"capped at {args.rate_mbytes:g} MB/s each direction (tbf); file: {size / MIB:g} MiB "
        f"random bytes (sha256 {want_sha[:16]}...). Ideal = file size / per-host bandwidth = "
        f"{ideal:.2f} s. Times from one common start instant to each host's completion.",
        "",
        "| system | p50 | p90 | max | max / ideal | origin egress / file size | "
        "CPU s per GiB delivered | peak RSS per daemon (max / mean) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if r.get("skipped"):
            lines.append(f"| {r['name']} | {r['skipped']} | | | | | | |")
            continue
        times = list((r.get("times") or {}).values())
        if not r.get("ok") or len(times) < len(hosts) - len(r.get("expect_fail", [])):
            lines.append(f"| {r['name']} | FAILED: {r.get('error', '?')} | | | | | | |")
            if not times:
                continue
        egress = r.get("origin_egress_bytes")
        eg = f"{egress / size:.3f}" if isinstance(egress, (int, float)) else "?"
        cpu = rss = ""
        if "cpu_daemons_s" in r:
            delivered = len(hosts) * size / GIB
            cpu = f"{r['cpu_daemons_s'] / delivered:.2f}"
            d = [v for k, v in r["rss"].items() if k.startswith("dfdaemon-")]
            rss = f"{max(d) / MIB:.0f} / {sum(d) / len(d) / MIB:.0f} MiB"
        lines.append(f"| {r['name']} | {percentile(times, 50):.2f} s | "
                     f"{percentile(times, 90):.2f} s | {max(times):.2f} s | "
                     f"{max(times) / ideal:.2f} | {eg} | {cpu} | {rss} |")
    df = results[0]
    if df.get("times"):
        lines += ["", "Dragonfly per host (completion time; bytes by source from the daemon "
                  "metrics, MiB):", "",
                  "| host | time | back to source | from peers (of which seed) | uploaded | "
                  "piece failures | peak RSS | CPU s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for h in ["seed"] + hosts:
            m = df.get("per_host", {}).get(h, {})
            t = df["times"].get(h)
            f = lambda k: f"{m[k] / MIB:.0f}" if k in m else "?"  # noqa: E731
            lines.append(f"| {h} | {'' if t is None else f'{t:.2f} s'} | {f('back_to_source')} | "
                         f"{f('remote_peer')} ({f('seed_peer')}) | {f('uploaded')} | "
                         f"{int(m.get('piece_failures', 0))} | "
                         f"{df['rss'].get('dfdaemon-' + h, 0) / MIB:.0f} MiB | "
                         f"{df['cpu_by_proc'].get('dfdaemon-' + h, 0):.2f} |")
        lines += ["", f"Scheduler: {df['cpu_by_proc'].get('scheduler', 0):.2f} CPU s, peak RSS "
                  f"{df['rss'].get('scheduler', 0) / MIB:.0f} MiB. CPU of the dfget clients "
                  f"(not in the table): {df.get('cpu_dfget_s', 0):.2f} s. CPU s per GiB counts "
                  f"the scheduler and every dfdaemon (seed included) over the Dragonfly run, "
                  f"divided by the GiB written to h1..h{len(hosts)}."]
    # Targets.
    bt = results[2] if len(results) > 2 else {}
    mark = lambda good: "met" if good else "MISSED"  # noqa: E731
    lines += ["", "| target | value | goal | |", "| --- | ---: | ---: | --- |"]
    if df.get("ok"):
        mx = max(df["times"].values())
        eg = df["origin_egress_bytes"] / size
        lines.append(f"| Dragonfly max completion / ideal | {mx / ideal:.2f} | <= 1.15 | "
                     f"{mark(mx / ideal <= 1.15)} |")
        lines.append(f"| Dragonfly origin egress / file size | {eg:.3f} | <= 1.02 | "
                     f"{mark(eg <= 1.02)} |")
        seed_up = df.get("per_host", {}).get("seed", {}).get("uploaded")
        if isinstance(seed_up, (int, float)):
            lines.append(f"| seed upload / file size | {seed_up / size:.2f} | <= 1.2 | "
                         f"{mark(seed_up / size <= 1.2)} |")
        lines += scenario_rows(df, args, size, hosts, mark)
        if bt.get("ok"):
            r = mx / max(bt["times"].values())
            lines.append(f"| Dragonfly max / BitTorrent max | {r:.2f} | <= 0.75 | "
                         f"{mark(r <= 0.75)} |")
        else:
            lines.append("| Dragonfly max / BitTorrent max | - | <= 0.75 | not measured "
                         f"({bt.get('skipped') or bt.get('error') or 'no BitTorrent run'}) |")
    else:
        lines.append(f"| Dragonfly run | FAILED | | {df.get('error', '?')} |")
    lines += ["", f"Chart (completion-time CDF): `{chart_path}`" if chart_path
              else "Chart: not written (see stderr).", ""]
    return "\n".join(lines)


def scenario_rows(df, args, size, hosts, mark):
    """Target rows of the --scenario runs (see the issue's bench scenarios)."""
    ideal = size / (args.rate_mbytes * 1e6)
    times, starts = df["times"], df.get("starts", {})
    rows = []
    if args.scenario == "hetero":
        slow = hosts[-args.slow_hosts:]
        fast = [h for h in hosts if h not in slow]
        fmax = max(times[h] for h in fast)
        smax = max(times[h] for h in slow)
        slow_ideal = size / 5e6
        rows.append(f"| fast hosts max / ideal | {fmax / ideal:.2f} | <= 1.25 | "
                    f"{mark(fmax / ideal <= 1.25)} |")
        rows.append(f"| slow hosts (5 MB/s) max / their ideal | {smax / slow_ideal:.2f} | "
                    f"<= 1.15 | {mark(smax / slow_ideal <= 1.15)} |")
    elif args.scenario == "churn":
        mx = max(times.values())
        rows.append(f"| survivors max / ideal ({', '.join(df.get('expect_fail', []))} killed "
                    f"at half the file) | {mx / ideal:.2f} | <= 1.3 | {mark(mx / ideal <= 1.3)} |")
        rows.append("| corrupt outputs (sha256 checked on every survivor) | 0 | 0 | met |")
    elif args.scenario == "late":
        late = [h for h in hosts if starts.get(h, 0) > 0.5]
        if late:
            lmax = max(times[h] - starts[h] for h in late)
            rows.append(f"| late joiners ({len(late)}, started at "
                        f"{min(starts[h] for h in late):.1f} s) max from their start / ideal | "
                        f"{lmax / ideal:.2f} | | |")
    return rows


# --- a tiny PNG chart (no matplotlib on this machine) ---------------------------------------

_FONT = {  # 5x7, rows top to bottom
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "A": "01110 10001 10001 11111 10001 10001 10001",
    "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110",
    "D": "11100 10010 10001 10001 10001 10010 11100",
    "E": "11111 10000 10000 11110 10000 10000 11111",
    "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111",
    "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110",
    "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001",
    "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110",
    "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101",
    "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110",
    "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010",
    "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 10001 01010 00100 00100 00100",
    "Z": "11111 00001 00010 00100 01000 10000 11111",
    " ": "00000 00000 00000 00000 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    "(": "00010 00100 01000 01000 01000 00100 00010",
    ")": "01000 00100 00010 00010 00010 00100 01000",
    "/": "00000 00001 00010 00100 01000 10000 00000",
    ":": "00000 01100 01100 00000 01100 01100 00000",
    "%": "11000 11001 00010 00100 01000 10011 00011",
    "=": "00000 00000 11111 00000 11111 00000 00000",
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(max(0, y0), min(self.h, y1 + 1)):
            for x in range(max(0, x0), min(self.w, x1 + 1)):
                self.dot(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=1, dash=0):
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, n = dx + dy, 0
        while True:
            if not dash or (n // dash) % 2 == 0:
                r = width // 2
                for ox in range(-r, width - r):
                    for oy in range(-r, width - r):
                        self.dot(x0 + ox, y0 + oy, c)
            n += 1
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x, y, s, c=(0, 0, 0), scale=2, vertical=False):
        for ch in s.upper():
            rows = _FONT.get(ch, _FONT[" "]).split()
            for ry, row in enumerate(rows):
                for rx, bit in enumerate(row):
                    if bit == "1":
                        for a in range(scale):
                            for b in range(scale):
                                if vertical:  # rotated 90 degrees counter-clockwise
                                    self.dot(x + ry * scale + b, y - rx * scale - a, c)
                                else:
                                    self.dot(x + rx * scale + a, y + ry * scale + b, c)
            if vertical:
                y -= 6 * scale
            else:
                x += 6 * scale

    @staticmethod
    def text_width(s, scale=2):
        return len(s) * 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data
                    + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def nice_step(span, target=8):
    raw = span / target
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    while mag > raw:
        mag /= 10
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def write_chart(path, series, ideal, title):
    """series: [(label, [seconds], rgb)]; a CDF of completion times per series."""
    W, H = 960, 600
    L, R, T, B = 120, 30, 90, 80
    cv = Canvas(W, H)
    xmax = max([ideal] + [max(t) for _, t, _ in series if t]) * 1.05
    step = nice_step(xmax)
    xmax = step * (int(xmax / step) + 1)
    px = lambda x: L + (W - L - R) * x / xmax  # noqa: E731
    py = lambda y: H - B - (H - T - B) * y  # noqa: E731
    grey, black = (220, 220, 220), (0, 0, 0)
    x = 0.0
    while x <= xmax + 1e-9:
        cv.line(px(x), py(0), px(x), py(1), grey)
        lab = f"{x:g}"
        cv.text(int(px(x)) - cv.text_width(lab) // 2, H - B + 10, lab)
        x += step
    for i in range(5):
        y = i / 4
        cv.line(px(0), py(y), px(xmax), py(y), grey)
        lab = f"{y:.2f}"
        cv.text(L - 10 - cv.text_width(lab), int(py(y)) - 7, lab)
    cv.line(px(0), py(0), px(xmax), py(0), black)
    cv.line(px(0), py(0), px(0), py(1), black)
    cv.text(L + (W - L - R - cv.text_width("COMPLETION TIME (S)")) // 2, H - 35,
            "COMPLETION TIME (S)")
    cv.text(16, H - B - (H - T - B - cv.text_width("FRACTION OF HOSTS DONE")) // 2,
            "FRACTION OF HOSTS DONE", vertical=True)
    cv.text((W - cv.text_width(title)) // 2, 20, title)
    cv.line(px(ideal), py(0), px(ideal), py(1), (120, 120, 120), width=2, dash=6)
    legend = [(f"IDEAL {ideal:.1f} S", (120, 120, 120))]
    for label, times, color in series:
        if not times:
            continue
        s = sorted(times)
        n = len(s)
        xp, yp = 0.0, 0.0
        for i, t in enumerate(s):
            cv.line(px(xp), py(yp), px(t), py(yp), color, width=3)
            cv.line(px(t), py(yp), px(t), py((i + 1) / n), color, width=3)
            xp, yp = t, (i + 1) / n
        cv.line(px(xp), py(yp), px(xmax), py(yp), color, width=3)
        legend.append((label, color))
    # Legend in one row between the title and the plot, so it never hides a curve.
    total = sum(40 + cv.text_width(label) + 30 for label, _ in legend) - 30
    lx, y = (W - total) // 2, 52
    for label, color in legend:
        cv.rect(lx, y + 4, lx + 30, y + 9, color)
        cv.text(lx + 40, y, label)
        lx += 40 + cv.text_width(label) + 30
    cv.png(path)


# --- main ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=8, help="peer hosts h1..hN (1-16)")
    ap.add_argument("--rate-mbytes", type=float, default=25,
                    help="per-link cap in MB/s (10^6 bytes), each direction")
    ap.add_argument("--size-mb", type=int, default=256, help="file size in MiB")
    ap.add_argument("--smoke", action="store_true",
                    help="CI check: 3 hosts, 16 MiB, 25 MB/s, no BitTorrent; fails unless every "
                         "output matches")
    ap.add_argument("--no-bittorrent", action="store_true", help="skip baseline (b)")
    ap.add_argument("--no-direct", action="store_true", help="skip baseline (a), curl")
    ap.add_argument("--scenario", choices=["all", "hetero", "churn", "late"], default="all",
                    help="all: every host starts at once; hetero: the last --slow-hosts hosts "
                         "have 5 MB/s links; churn: the last host's dfdaemon is SIGKILLed at "
                         "half the file; late: half the hosts start when the others are at 50%%")
    ap.add_argument("--slow-hosts", type=int, default=2, help="hosts at 5 MB/s for hetero")
    ap.add_argument("--upload-slots", type=int, default=None,
                    help="dfdaemon upload.slots (pieces uploaded at once; default: the daemon's)")
    ap.add_argument("--daemon-config", default=None,
                    help='JSON merged into every dfdaemon config, e.g. '
                         '\'{"download": {"concurrentPieceCount": 4}}\'')
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    args = ap.parse_args()
    if args.smoke:
        args.hosts, args.size_mb, args.rate_mbytes, args.no_bittorrent = 3, 16, 25, True
    if not 1 <= args.hosts <= 16:
        ap.error("--hosts must be in [1, 16]")
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces)")
    size = args.size_mb * MIB
    ideal = size / (args.rate_mbytes * 1e6)
    hosts = [f"h{i}" for i in range(1, args.hosts + 1)]

    netns.cleanup_stale()
    work = tempfile.mkdtemp(prefix="df-cluster-bench-")
    ok = False
    results = []
    want = None
    rates = {}
    if args.scenario == "hetero":
        rates = {h: 5 for h in hosts[-args.slow_hosts:]}
    topo = netns.Topology(args.hosts, args.rate_mbytes, extra=["seed"], rates=rates)
    try:
        origin_root = os.path.join(work, "origin")
        os.makedirs(origin_root)
        file_path = os.path.join(origin_root, "blob.bin")
        log(f"work dir {work}; writing {args.size_mb} MiB of random bytes")
        want = make_file(file_path, size)
        with topo:
            log(f"topology {topo.tag}: {args.hosts} hosts + origin + seed at "
                f"{args.rate_mbytes:g} MB/s; ideal {ideal:.2f} s")
            origin = Origin(topo, work, origin_root)
            url = origin.url("blob.bin")
            df_timeout = max(120.0, 20 * ideal)
            if rates:
                df_timeout = max(df_timeout, 20 * size / 5e6)
            results.append(run_dragonfly(topo, hosts, origin, url, want,
                                         os.path.join(work), df_timeout, args.upload_slots,
                                         json.loads(args.daemon_config or "{}"),
                                         args.scenario, size))
            if not results[0]["ok"]:
                log(f"Dragonfly run FAILED: {results[0].get('error')}")
            results.append(run_direct(topo, hosts, origin, url, want, work,
                                      max(120.0, 4 * len(hosts) * ideal), not args.no_direct))
            results.append(run_bt(topo, file_path, work, not args.no_bittorrent))
            origin.svc.stop(5)
        ok = results[0]["ok"] and (results[1]["ok"] or results[1].get("skipped"))
    finally:
        kept = None
        if results or not ok:
            if args.keep:
                kept = work
            elif not ok:
                kept = tempfile.mkdtemp(prefix="df-cluster-bench-logs-")
                for dirpath, _, files in os.walk(work):
                    for fn in files:
                        if fn.endswith((".log", ".yaml")):
                            src = os.path.join(dirpath, fn)
                            rel = os.path.relpath(src, work).replace(os.sep, "_")
                            shutil.copy(src, os.path.join(kept, rel))
        if kept != work:
            shutil.rmtree(work, ignore_errors=True)
        if kept:
            log(f"logs kept in {kept}")

    os.makedirs(args.results_dir, exist_ok=True)
    stem = (f"cluster-{datetime.date.today().isoformat()}-{args.hosts}x{args.rate_mbytes:g}"
            + ("-smoke" if args.smoke else "")
            + (f"-{args.scenario}" if args.scenario != "all" else "")
            + (f"-{args.size_mb}m" if args.size_mb != 256 else ""))
    md_path = os.path.join(args.results_dir, stem + ".md")
    png_path = os.path.join(args.results_dir, stem + ".png")
    colors = {"Dragonfly": (31, 119, 180), "direct (curl)": (214, 39, 40),
              "BitTorrent": (44, 160, 44)}
    series = [(r["name"].upper(), list((r.get("times") or {}).values()), colors[r["name"]])
              for r in results]
    chart = None
    try:
        title = (f"COMPLETION TIME CDF: {args.hosts} HOSTS, {args.size_mb} MIB, "
                 f"{args.rate_mbytes:g} MB/S PER LINK")
        write_chart(png_path, series, ideal, title)
        chart = os.path.relpath(png_path, ROOT)
    except Exception as e:  # the chart is a nicety; the table is the result
        log(f"chart not written: {e}")
    report = render(results, args, size, hosts, want or "?", chart)
    print(report)
    with open(md_path, "w") as f:
        f.write(report)
    log(f"written to {md_path}")
    if not ok:
        log("FAILED: " + "; ".join(f"{r['name']}: {r.get('error')}" for r in results
                                   if not r.get("ok") and not r.get("skipped")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
