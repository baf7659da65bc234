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
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import netns  # noqa: E402
from chart import write_chart  # noqa: E402
from cluster_report import render  # noqa: E402
from bench_services import (BenchError, Origin, S3Origin, Service, http_get,  # noqa: E402,F401
                            log)

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "e2e"))
from cluster import metric as metric_sum  # noqa: E402  (Prometheus text: sum of a metric)

BIN = os.environ.get("DF_BIN_DIR", os.path.join(ROOT, "build", "bin"))
MIB = 1 << 20
SCHED_PORT = 8002
PIECE_PORT, RPC_PORT, METRICS_PORT = 4005, 4000, 4002
CLK_TCK = os.sysconf("SC_CLK_TCK")
KILLED_RUN = "Dragonfly, scheduler killed"  # the second run of --scenario scheduler-kill


# --- helpers -------------------------------------------------------------------------------

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


def certificate(work, role, name):
    """The `security` section for `name` with a certificate of `role` from the bench's cluster
    CA (made on first use with bin/dfcert): the hosts talk mutual TLS, as a deployment does."""
    ca = os.path.join(work, "pki", "ca")
    if not os.path.exists(ca):
        subprocess.run([os.path.join(BIN, "dfcert"), "ca", "--out", ca], check=True,
                       capture_output=True)
    out = os.path.join(work, "pki", f"{role}-{name}")
    subprocess.run([os.path.join(BIN, "dfcert"), "issue", "--ca", ca, "--role", role, "--name",
                    name, "--out", out], check=True, capture_output=True)
    return {"caCert": os.path.join(out, "ca.crt"), "cert": os.path.join(out, "tls.crt"),
            "key": os.path.join(out, "tls.key")}


def scheduler_hosts(schedulers):
    """The hosts the schedulers run on: "seed", then "sched2"."""
    return ["seed", "sched2"][:schedulers]


def start_dragonfly(topo, hosts, work, overrides_of=lambda h: None, upload_slots=None,
                    schedulers=1):
    """A scheduler on "seed" (and on "sched2" with schedulers=2), the seed-peer dfdaemon on
    "seed", a dfdaemon on each of `hosts`, with certificates from a cluster CA; returns (services
    in start order, {host: dfdaemon Service}). The caller stops them. overrides_of(h): extra
    config sections for h's dfdaemon. Every daemon knows every scheduler (scheduler.addrs)."""
    seed_ip = topo.ip("seed")
    services = []
    try:
        for sh in scheduler_hosts(schedulers):
            ip = topo.ip(sh)
            sched_dir = os.path.join(work, "scheduler-" + sh)
            os.makedirs(sched_dir)
            cfg = os.path.join(sched_dir, "scheduler.yaml")
            with open(cfg, "w") as f:
                f.write(f"server:\n  listen: {ip}:{SCHED_PORT}\n"
                        f"metrics:\n  listen: {ip}:8000\nlog:\n  level: info\n"
                        f"security: {json.dumps(certificate(work, 'scheduler', 'scheduler-' + sh))}"
                        "\n")
            name = "scheduler" if sh == "seed" else "scheduler-" + sh
            services.append(Service(topo, sh, name,
                                    [os.path.join(BIN, "scheduler"), "--config", cfg], work,
                                    "scheduler listening on"))
        addrs = [f"{topo.ip(sh)}:{SCHED_PORT}" for sh in scheduler_hosts(schedulers)]
        daemons = {}
        for h in ["seed"] + hosts:
            home = os.path.join(work, h)
            os.makedirs(home)
            overrides = {"security": certificate(work, "seed-peer" if h == "seed" else "daemon",
                                                 h), **(overrides_of(h) or {})}
            overrides["scheduler"] = {"addrs": addrs, **overrides.get("scheduler", {})}
            path = daemon_config(home, h, topo.ip(h), seed_ip, seed=(h == "seed"),
                                 upload_slots=upload_slots, overrides=overrides)
            daemons[h] = Service(topo, h, f"dfdaemon-{h}",
                                 [os.path.join(BIN, "dfdaemon"), "--config", path], work,
                                 "dfdaemon started")
            services.append(daemons[h])
        log(f"{schedulers} scheduler(s) + {len(daemons)} dfdaemons up (seed peer on {seed_ip})")
        return services, daemons
    except BaseException:
        for s in reversed(services):
            s.stop(timeout=5)
        raise


def byte_sources(topo, hosts):
    """{host: where its dfdaemon's bytes came from and what it uploaded} from /metrics."""
    per_host = {}
    for h in hosts:
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
    return per_host


def scheduler_tasks(topo, sh):
    """dragonfly_scheduler_tasks of the scheduler on host `sh` (0 when it does not answer)."""
    try:
        text = http_get(topo, sh, f"http://{topo.ip(sh)}:8000/metrics", timeout=5)
    except BenchError:
        return 0
    return metric_sum(text, "dragonfly_scheduler_tasks")


def run_dragonfly(topo, hosts, origin, url, want_sha, work, timeout, upload_slots=None,
                  overrides=None, scenario="all", size=0, to_stdout=False, schedulers=1,
                  name="Dragonfly"):
    """to_stdout: `dfget -O - > /dev/null` (no output file; for files too big to keep a copy per
    host besides the stores); each host's stored task file is then checked instead.
    scenario "scheduler-kill" (schedulers=2): the scheduler that owns the task is SIGKILLed when
    the hosts hold a third of the file on average."""
    res = {"name": name, "ok": False}
    services = []
    work = os.path.join(work, name.split(",")[0].lower() + ("-kill" if "kill" in scenario else ""))
    os.makedirs(work, exist_ok=True)
    try:
        services, daemons = start_dragonfly(topo, hosts, work, lambda h: overrides,
                                            upload_slots, schedulers)
        outs = {h: os.path.join(work, h, "out.bin") for h in hosts}

        def argv(h):
            dfget = [os.path.join(BIN, "dfget"), url, "-O", "-" if to_stdout else outs[h], "-e",
                     os.path.join(work, h, "dfdaemon.sock"), "-v", "--no-progress"]
            return ["sh", "-c", 'exec "$@" > /dev/null', "sh", *dfget] if to_stdout else dfget

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
        elif scenario == "scheduler-kill":
            state = {"killed": False}
            t0 = time.monotonic()

            def on_tick():
                if state["killed"]:
                    return
                held = sum(downloaded_bytes(topo, h) for h in hosts) / len(hosts)
                if held < size / 3:
                    return
                owners = [sh for sh in scheduler_hosts(schedulers) if scheduler_tasks(topo, sh)]
                if len(owners) != 1:
                    raise BenchError(f"the task is on schedulers {owners}, not on one")
                state["killed"] = True
                victim = next(s for s in services if s.host == owners[0] and
                              s.name.startswith("scheduler"))
                victim.proc.kill()
                res["killed"] = {"scheduler": victim.name, "at_s": time.monotonic() - t0,
                                 "held_mib": held / MIB}
                log(f"scheduler-kill: SIGKILLed {victim.name} at {held / MIB:.0f} MiB per host")
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
        per_host = byte_sources(topo, ["seed"] + hosts)
        res["per_host"] = per_host
        # Peak RSS just before stopping.
        res["rss"] = {s.name: vm_hwm_bytes(s.pid) for s in services if s.proc.poll() is None}
        res["stop_codes"] = {}
        for s in reversed(services):
            res["stop_codes"][s.name] = s.stop()
        services = []
        if to_stdout:  # what each host's daemon stored, which dfget streamed out
            outs = {h: stored_file(os.path.join(work, h, "store"), size) for h in hosts}
        bad = [h for h in hosts if codes[h] != 0 and h not in expect_fail]
        if bad:
            raise BenchError(f"dfget failed on {', '.join(f'{h} ({codes[h]})' for h in bad)}")
        for h in expect_fail:  # the churn victim: not a survivor
            times.pop(h, None)
            if outs[h] and os.path.exists(outs[h]):
                os.unlink(outs[h])
        outs = {h: p for h, p in outs.items() if h not in expect_fail}
        wrong = [h for h in outs if not outs[h] or sha256_file(outs[h]) != want_sha]
        if wrong:
            raise BenchError(f"dfget output has the wrong sha256 on {', '.join(wrong)}")
        for h, p in outs.items():
            os.unlink(p)
        res["ok"] = True
        return res
    except BenchError as e:
        res["error"] = str(e)
        return res
    finally:
        for s in reversed(services):
            s.stop(timeout=5)
        for h in ["seed"] + hosts:  # room on disk for the baselines
            shutil.rmtree(os.path.join(work, h, "store"), ignore_errors=True)
        if scenario == "scheduler-kill" and "killed" not in res and res.get("ok"):
            res["ok"], res["error"] = False, "the downloads ended before the kill"


def stored_file(store, size):
    """The task data file of `size` bytes under a dfdaemon's storage dir, or None."""
    for dirpath, _, files in os.walk(store):
        for fn in files:
            p = os.path.join(dirpath, fn)
            if os.path.getsize(p) == size:
                return p
    return None


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
    times, codes, _ = run_all(topo, hosts,
                              lambda h: ["curl", "-s", "-f", *origin.curl_args, "-o", outs[h],
                                         url], d, "curl", timeout)
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
    ap.add_argument("--scenario", choices=["all", "hetero", "churn", "late", "scheduler-kill"],
                    default="all",
                    help="all: every host starts at once; hetero: the last --slow-hosts hosts "
                         "have 5 MB/s links; churn: the last host's dfdaemon is SIGKILLed at "
                         "half the file; late: half the hosts start when the others are at 50%%; "
                         "scheduler-kill: two schedulers, a run without a kill, then one where "
                         "the task's scheduler is SIGKILLed at a third of the file (no baselines)")
    ap.add_argument("--slow-hosts", type=int, default=2, help="hosts at 5 MB/s for hetero")
    ap.add_argument("--upload-slots", type=int, default=None,
                    help="dfdaemon upload.slots (pieces uploaded at once; default: the daemon's)")
    ap.add_argument("--daemon-config", default=None,
                    help='JSON merged into every dfdaemon config, e.g. '
                         '\'{"download": {"concurrentPieceCount": 4}}\'')
    ap.add_argument("--to-stdout", action="store_true",
                    help="dfget -O - > /dev/null, the daemons' stored copies checked instead "
                         "(4 GiB runs: one copy per host fits on disk, two do not)")
    ap.add_argument("--origin", choices=["http", "s3"], default="http",
                    help="the origin: tools/test_origin.py, or an S3-compatible store "
                         "(test/servers/s3.js, signed requests; the daemons fetch s3://)")
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
    kill = args.scenario == "scheduler-kill"
    if kill:
        args.no_direct = args.no_bittorrent = True
    topo = netns.Topology(args.hosts, args.rate_mbytes, extra=["seed", "sched2"] if kill
                          else ["seed"], rates=rates)
    try:
        origin_root = os.path.join(work, "origin")
        os.makedirs(origin_root)
        file_path = os.path.join(origin_root, "blob.bin")
        log(f"work dir {work}; writing {args.size_mb} MiB of random bytes")
        want = make_file(file_path, size)
        with topo:
            log(f"topology {topo.tag}: {args.hosts} hosts + origin + seed at "
                f"{args.rate_mbytes:g} MB/s; ideal {ideal:.2f} s")
            origin = (S3Origin if args.origin == "s3" else Origin)(topo, work, origin_root)
            url = origin.url("blob.bin")
            df_timeout = max(120.0, 20 * ideal)
            if rates:
                df_timeout = max(df_timeout, 20 * size / 5e6)
            overrides = dict(origin.daemon_overrides, **json.loads(args.daemon_config or "{}"))
            results.append(run_dragonfly(topo, hosts, origin, url, want, work, df_timeout,
                                         args.upload_slots, overrides,
                                         "all" if kill else args.scenario, size, args.to_stdout,
                                         schedulers=2 if kill else 1))
            if not results[0]["ok"]:
                log(f"Dragonfly run FAILED: {results[0].get('error')}")
            if kill:
                results.append(run_dragonfly(topo, hosts, origin, url, want, work, df_timeout,
                                             args.upload_slots, overrides, args.scenario, size,
                                             args.to_stdout, schedulers=2,
                                             name=KILLED_RUN))
                if not results[1]["ok"]:
                    log(f"scheduler-kill run FAILED: {results[1].get('error')}")
            else:
                results.append(run_direct(topo, hosts, origin, origin.http_url("blob.bin"), want,
                                          work, max(120.0, 4 * len(hosts) * ideal),
                                          not args.no_direct))
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
            + (f"-{args.scenario}" if args.scenario != "all" else "")
            + (f"-{args.size_mb}m" if args.size_mb != 256 else "")
            + ("-s3" if args.origin == "s3" else "")
            + ("-smoke" if args.smoke else ""))  # .gitignore: *-smoke.*
    md_path = os.path.join(args.results_dir, stem + ".md")
    png_path = os.path.join(args.results_dir, stem + ".png")
    colors = {"Dragonfly": (31, 119, 180), "direct (curl)": (214, 39, 40),
              "BitTorrent": (44, 160, 44), KILLED_RUN: (255, 127, 14)}
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
