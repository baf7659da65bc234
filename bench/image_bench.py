#!/usr/bin/env python3
"""Image pull through every host's registry mirror against the same pull from the registry.

    flock /tmp/df-build.lock python3 bench/image_bench.py          # 8 hosts, 8 layers, 512 MiB
    python3 bench/image_bench.py --smoke                          # 3 hosts, 4 layers, 32 MiB

Topology (bench/netns.py, every link capped at --rate-mbytes MB/s each way): "origin" runs a
real docker-registry (plain HTTP) holding one image of --layers random gzip layers totalling
--size-mb MiB; "seed" runs the scheduler and a seed-peer dfdaemon; h1..hN each a dfdaemon whose
registry mirror (proxy.registryMirror.addr = the registry) listens on the host's address.
One after the other, every host at once (one start gate):
  Dragonfly  `skopeo copy docker://REGISTRY/bench/image:v1 oci:OUT` with a registries.conf that
             names the host's own mirror (skopeo fetches several layers in parallel, as
             containerd does; manifests pass through the mirror, blobs go P2P)
  direct     the same skopeo copy straight from the registry
Reported: per-host completion (p50, max), max / ideal (ideal = image size / link rate), and
registry egress / image size (blob bytes in the registry's access log). Every host's output
must hold each layer (skopeo verifies digests). Needs root, iproute2, curl, skopeo and
docker-registry. Results to stdout and bench/results/image-<date>-<hosts>x<rate>.md.
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
import netns  # noqa: E402
import registry as R  # noqa: E402  (docker-registry, image push, skopeo helpers)
from cluster_bench import (BenchError, byte_sources, http_get, log, run_all,  # noqa: E402
                           start_dragonfly)
from cluster_report import percentile  # noqa: E402
from machine import machine_info  # noqa: E402

MIB = 1 << 20
REGISTRY_PORT, MIRROR_PORT = 5000, 65001
IMAGE, TAG = "bench/image", "v1"


def build_image(work, layers, layer_bytes, seed):
    """Pushes the image into a docker-registry on loopback whose storage directory the
    namespaced registry then serves; returns (Registry, push_image's dict)."""
    reg = R.Registry(work, name="registry", bind="127.0.0.1")
    reg.start()
    try:
        image = R.push_image(reg, IMAGE, TAG, layers=[layer_bytes] * layers, seed=seed,
                             workdir=work)
    finally:
        reg.kill()
    return reg, image


def serve_registry(topo, reg):
    """The pushed registry's storage served from the origin namespace on REGISTRY_PORT."""
    reg.bind, reg.port = topo.ip("origin"), REGISTRY_PORT
    reg._write_config()
    open(reg.access_log, "wb").close()  # O_APPEND below: reset_access_log() can truncate
    with open(reg.access_log, "ab") as out, open(reg.log, "ab") as err:
        proc = topo.popen("origin", [R.REGISTRY_BIN, "serve", reg.config_path], stdout=out,
                          stderr=err, stdin=subprocess.DEVNULL, cwd=reg.workdir)
    deadline = time.monotonic() + 30
    while True:
        try:
            http_get(topo, "origin", reg.url + "/v2/", timeout=2)
            return proc
        except BenchError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"registry did not start: {reg.logs()[-2000:]}")
            time.sleep(0.1)


def blob_egress(reg):
    """Bytes of blob bodies the registry sent (access log, 200 and 206 responses)."""
    return sum(r["bytes"] for r in reg.requests()
               if r["method"] == "GET" and "/blobs/" in r["path"] and r["status"] in (200, 206))


def pull_all(topo, hosts, reg, image, work, tag, mirror_of, timeout):
    """skopeo copy on every host at once; returns (times, problems)."""
    d = os.path.join(work, tag)
    os.makedirs(d)
    argvs = {}
    for h in hosts:
        conf = R.write_registries_conf(os.path.join(d, f"{h}.conf"), reg.host, insecure=True,
                                       mirrors=[mirror_of(h)] if mirror_of(h) else [])
        policy = os.path.join(d, "policy.json")
        with open(policy, "w") as f:
            f.write('{"default": [{"type": "insecureAcceptAnything"}]}')
        argvs[h] = R._private_cache_prefix() + [
            R.SKOPEO_BIN, "--policy", policy, "--registries-conf", conf, "copy",
            "--src-tls-verify=false", f"docker://{reg.host}/{IMAGE}:{TAG}",
            f"oci:{os.path.join(d, h)}:latest"]
    reg.reset_access_log()
    times, codes, _ = run_all(topo, hosts, lambda h: argvs[h], d, "skopeo", timeout)
    problems = [f"{h} exit {codes[h]}" for h in hosts if codes[h] != 0]
    for h in hosts:
        missing = set(image["layer_digests"]) - R.oci_layout_blobs(os.path.join(d, h))
        if codes[h] == 0 and missing:
            problems.append(f"{h} lacks {len(missing)} layers")
        shutil.rmtree(os.path.join(d, h), ignore_errors=True)
    log(f"{tag} times: " + ", ".join(f"{h} {times.get(h, float('nan')):.2f}s" for h in hosts))
    return times, problems


def run(topo, hosts, reg, image, work, timeout, direct_timeout):
    rows = []
    services = []
    try:
        def mirror_cfg(h):
            return {"proxy": {"listen": f"{topo.ip(h)}:{MIRROR_PORT}",
                              "registryMirror": {"addr": reg.url}}}
        services, _ = start_dragonfly(topo, hosts, os.path.join(work, "df"), mirror_cfg)
        times, problems = pull_all(topo, hosts, reg, image, work, "dragonfly",
                                   lambda h: f"{topo.ip(h)}:{MIRROR_PORT}", timeout)
        rows.append({"name": "Dragonfly (mirror on each host)", "times": times,
                     "egress": blob_egress(reg), "problems": problems,
                     "sources": byte_sources(topo, ["seed"] + hosts)})
    finally:
        for s in reversed(services):
            s.stop(timeout=10)
    times, problems = pull_all(topo, hosts, reg, image, work, "direct", lambda h: None,
                               direct_timeout)
    rows.append({"name": "direct (skopeo from the registry)", "times": times,
                 "egress": blob_egress(reg), "problems": problems})
    return rows


def render(rows, args, size, image, hosts):
    ideal = size / (args.rate_mbytes * 1e6)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    argv = " ".join(["python3", "bench/image_bench.py"] + sys.argv[1:])
    lines = [f"# Image pull through registry mirrors (network namespaces), {now}", "",
             f"Machine: {machine_info()}. Command: `{argv}`.",
             f"{len(hosts)} hosts + origin (docker-registry) + seed (scheduler, seed peer), links "
             f"capped at {args.rate_mbytes:g} MB/s each way; image: {len(image['layer_digests'])} "
             f"gzip layers, {size / MIB:.1f} MiB of blobs; each host runs skopeo copy at the same "
             f"instant. Ideal = image size / link rate = {ideal:.2f} s.", "",
             "| system | p50 s | max s | max / ideal | registry egress / image size | result |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        t = list(r["times"].values())
        p50 = f"{percentile(t, 50):.2f}" if t else "-"
        mx = max(t) if t else float("nan")
        lines.append(f"| {r['name']} | {p50} | {mx:.2f} | {mx / ideal:.2f} | "
                     f"{r['egress'] / size:.3f} | "
                     f"{'; '.join(r['problems']) or 'all layers present'} |")
    df = rows[0]
    if df.get("sources"):
        lines += ["", "Dragonfly bytes by source (MiB):", "",
                  "| host | from origin | from seed peer | from other peers | uploaded |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for h, s in df["sources"].items():
            if "error" in s:
                lines.append(f"| {h} | {s['error']} | | | |")
                continue
            lines.append(f"| {h} | {s['back_to_source'] / MIB:.1f} | {s['seed_peer'] / MIB:.1f}"
                         f" | {(s['remote_peer'] - s['seed_peer']) / MIB:.1f} | "
                         f"{s['uploaded'] / MIB:.1f} |")
    if len(rows) == 2 and rows[0]["times"] and rows[1]["times"]:
        a, b = max(rows[0]["times"].values()), max(rows[1]["times"].values())
        lines += ["", f"Dragonfly max / direct max: {a / b:.2f}. Targets (issue 10): registry "
                      f"egress <= 1.05 x image ({df['egress'] / size:.3f}: "
                      f"{'met' if df['egress'] <= 1.05 * size else 'MISSED'}), max <= 1.3 x "
                      f"ideal ({a / ideal:.2f}: {'met' if a <= 1.3 * ideal else 'MISSED'})."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=8, help="peer hosts h1..hN (1-16)")
    ap.add_argument("--rate-mbytes", type=float, default=25, help="per-link cap, MB/s")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--size-mb", type=int, default=512, help="image size (sum of layers), MiB")
    ap.add_argument("--smoke", action="store_true", help="3 hosts, 4 layers, 32 MiB")
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    if args.smoke:
        args.hosts, args.layers, args.size_mb = 3, 4, 32
    if not 1 <= args.hosts <= 16 or not 1 <= args.layers <= 64:
        ap.error("--hosts must be in [1, 16] and --layers in [1, 64]")
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces)")
    for tool in (R.SKOPEO_BIN, R.REGISTRY_BIN):
        if not shutil.which(tool):
            ap.error(f"{tool} is not installed (scripts/install-deps.sh)")
    hosts = [f"h{i}" for i in range(1, args.hosts + 1)]
    netns.cleanup_stale()
    work = tempfile.mkdtemp(prefix="df-image-bench-")
    rows, ok = [], False
    try:
        log(f"work dir {work}; building {args.layers} layers, {args.size_mb} MiB")
        reg, image = build_image(work, args.layers, args.size_mb * MIB // args.layers,
                                 seed=int(time.time()))
        size = sum(image["layer_sizes"])
        ideal = size / (args.rate_mbytes * 1e6)
        with netns.Topology(args.hosts, args.rate_mbytes, extra=["seed"]) as topo:
            serve_registry(topo, reg)
            rows = run(topo, hosts, reg, image, work, max(120.0, 20 * ideal),
                       max(120.0, 4 * len(hosts) * ideal))
        ok = all(not r["problems"] and len(r["times"]) == len(hosts) for r in rows)
    finally:
        if args.keep or not ok:
            log(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not rows:
        return 1
    report = render(rows, args, size, image, hosts)
    print(report)
    os.makedirs(args.results_dir, exist_ok=True)
    stem = (f"image-{datetime.date.today().isoformat()}-{args.hosts}x{args.rate_mbytes:g}"
            + ("-smoke" if args.smoke else ""))
    with open(os.path.join(args.results_dir, stem + ".md"), "w") as f:
        f.write(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
