"""The Markdown report of bench/cluster_bench.py: per-system completion times, per-host
Dragonfly figures, and the targets with met / MISSED."""

import datetime
import sys

from machine import machine_info

MIB = 1 << 20
GIB = 1 << 30


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]



def render(results, args, size, hosts, want_sha, chart_path):
    ideal = size / (args.rate_mbytes * 1e6)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    argv = " ".join(["python3", "bench/cluster_bench.py"] + sys.argv[1:])
    lines = [
        f"# Cluster benchmark (network namespaces), {now}",
        "",
        f"Machine: {machine_info()}. Command: `{argv}`.",
        f"Topology: {len(hosts)} hosts + origin"
        + (" (an S3-compatible store, test/servers/s3.js: the daemons fetch s3://, curl signs "
           "with --aws-sigv4)" if getattr(args, "origin", "http") == "s3" else "")
        + " + seed (scheduler and seed peer), every link "
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
    bt = results[2] if len(results) > 2 and args.scenario != "scheduler-kill" else {}
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
        if args.scenario == "scheduler-kill":
            lines += kill_rows(df, results[1] if len(results) > 1 else {}, size, hosts, mark)
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


def kill_rows(df, killed, size, hosts, mark):
    """Targets of --scenario scheduler-kill: the run with the kill against the one without."""
    if not killed.get("ok"):
        return [f"| scheduler killed mid-download | FAILED | | {killed.get('error', '?')} |"]
    k = killed.get("killed", {})
    mx, base = max(killed["times"].values()), max(df["times"].values())
    b2s = sum(killed.get("per_host", {}).get(h, {}).get("back_to_source", 0) for h in hosts)
    eg = killed["origin_egress_bytes"] / size
    return [
        f"| max completion, {k.get('scheduler', '?')} (the task's owner) SIGKILLed at "
        f"{k.get('held_mib', 0):.0f} MiB per host ({k.get('at_s', 0):.1f} s) / same run without "
        f"the kill | {mx / base:.2f} | <= 1.2 | {mark(mx / base <= 1.2)} |",
        f"| origin egress / file size, with the kill | {eg:.3f} | <= 1.02 | "
        f"{mark(eg <= 1.02)} |",
        f"| bytes h1..h{len(hosts)} fetched back to source after the kill | {b2s / MIB:.0f} MiB "
        f"| 0 | {mark(b2s == 0)} |",
        "| corrupt outputs (sha256 checked on every host) | 0 | 0 | met |",
    ]


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
