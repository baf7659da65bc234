"""BitTorrent baseline for the cluster benchmark: one seeder on "origin", leechers on h1..hN.

    from bittorrent import run_bittorrent
    res = run_bittorrent(topo, "/tmp/big.bin", "/tmp/bt-work")
    # {"times": {"h1": 12.3, ...}, "origin_egress_bytes": ..., "client": "aria2 1.36.0",
    #  "tracker": "opentracker 0.0~git20210823.110868e-3 (whitelist)"}

Real Debian tools: the torrent is made by `mktorrent`, the tracker is `opentracker` (Debian builds it
in whitelist mode, so a whitelist with the torrent's info-hash is generated; if opentracker cannot
be started a minimal python HTTP tracker is used instead and `tracker` says so), the seeder and
the leechers are `aria2c`. Python 3 stdlib only.

One run:
  1. untimed: mktorrent (piece length ~size/256, 64 KiB..16 MiB), tracker start, seeder start
     (`--check-integrity`, so it hashes the source file first) and wait until the tracker reports
     the seeder (scrape: complete >= 1);
  2. timed: all leechers are started at once (t0 = just before the first one is launched); each
     leecher's `--on-bt-download-complete` hook writes a timestamp (aria2 verifies every piece's
     SHA-1 before it counts as complete). Leechers keep seeding (`--seed-ratio=0.0`) until every
     leecher is done, then everything is stopped;
  3. untimed: sha256 of every leecher's file is compared with the source's.

`origin_egress_bytes` is the growth of tx_bytes on the origin namespace's interface from before
the seeder starts until the last leecher completes: the seeder's upload (payload + BitTorrent,
TCP/IP and Ethernet overhead) plus the tracker's small announce/scrape replies.

`python3 bench/bittorrent.py [--hosts 3 --rate 25 --size-mb 16]` builds its own topology and
prints the result (run it under `flock /tmp/df-build.lock`; needs root).
"""

import hashlib
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse

TRACKER_PORT = 6969

# --- bencode (just enough to read a .torrent and a tracker reply) ---------------------------


def _bdecode(data, i=0):
    """Returns (value, end offset) of the bencoded value at data[i:]."""
    c = data[i:i + 1]
    if c == b"i":
        j = data.index(b"e", i)
        return int(data[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while data[i:i + 1] != b"e":
            v, i = _bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i:i + 1] != b"e":
            k, i = _bdecode(data, i)
            v, i = _bdecode(data, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        j = data.index(b":", i)
        n = int(data[i:j])
        return data[j + 1:j + 1 + n], j + 1 + n
    raise ValueError(f"bad bencode at offset {i}")


def _info_hash(torrent_bytes):
    """SHA-1 of the raw bencoded `info` dictionary."""
    if torrent_bytes[:1] != b"d":
        raise ValueError("torrent is not a dictionary")
    i = 1
    while torrent_bytes[i:i + 1] != b"e":
        k, i = _bdecode(torrent_bytes, i)
        start = i
        _, i = _bdecode(torrent_bytes, i)
        if k == b"info":
            return hashlib.sha1(torrent_bytes[start:i]).digest()
    raise ValueError("torrent has no info dictionary")


# --- minimal fallback tracker (only used if opentracker cannot be started) -------------------

_PY_TRACKER = r'''
import sys, socket, struct, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
swarms = {}  # info_hash -> {peer_id: (ip, port, left, seen)}
def benc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, str): return benc(v.encode())
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, obj):
        body = benc(obj)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query.encode("latin-1"), keep_blank_values=True)
        g = lambda k, d=b"": q.get(k.encode(), [d])[0]
        if u.path == "/scrape":
            files = {}
            for ih in q.get(b"info_hash", []):
                s = swarms.get(ih, {})
                c = sum(1 for p in s.values() if p[2] == 0)
                files[ih] = {"complete": c, "incomplete": len(s) - c, "downloaded": 0}
            return self.reply({"files": files})
        if u.path != "/announce":
            return self.reply({"failure reason": "unknown path"})
        ih, pid = g("info_hash"), g("peer_id")
        ip = self.client_address[0]
        port, left = int(g("port", b"0")), int(g("left", b"0"))
        s = swarms.setdefault(ih, {})
        if g("event") == b"stopped":
            s.pop(pid, None)
        else:
            s[pid] = (ip, port, left, time.time())
        want = int(g("numwant", b"200") or 200)
        peers = b"".join(socket.inet_aton(p[0]) + struct.pack(">H", p[1])
                         for k, p in s.items() if k != pid)[: 6 * want]
        c = sum(1 for p in s.values() if p[2] == 0)
        self.reply({"interval": 1800, "min interval": 900, "complete": c,
                    "incomplete": len(s) - c, "peers": peers})
ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
'''

# --- helpers ---------------------------------------------------------------------------------


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _pkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def _aria2_version():
    r = subprocess.run(["aria2c", "--version"], capture_output=True, text=True)
    first = r.stdout.splitlines()[0] if r.stdout else "aria2 ?"
    return first.replace(" version ", " ").strip()  # "aria2 1.36.0"


def _piece_log2(size):
    """~256 pieces, clamped to 64 KiB .. 16 MiB (256 MiB -> 2^20)."""
    if size <= 0:
        return 16
    return max(16, min(24, math.ceil(math.log2(max(size / 256, 1)))))


def _iface(topo, host):
    r = topo.run(host, ["ls", "/sys/class/net"], capture_output=True, text=True, check=True)
    names = [n for n in r.stdout.split() if n != "lo"]
    if len(names) != 1:
        raise RuntimeError(f"{host}: expected one non-lo interface, got {names}")
    return names[0]


def _tx_bytes(topo, host, iface):
    r = topo.run(host, ["cat", f"/sys/class/net/{iface}/statistics/tx_bytes"],
                 capture_output=True, text=True, check=True)
    return int(r.stdout.strip())


def _scrape(topo, host, url_base, info_hash):
    """Returns the tracker's scrape entry for info_hash ({} if none), or None if unreachable."""
    url = f"{url_base}/scrape?info_hash={urllib.parse.quote_from_bytes(info_hash, safe='')}"
    r = topo.run(host, ["curl", "-s", "-m", "2", url], capture_output=True)
    if r.returncode != 0 or not r.stdout:
        return None
    try:
        d, _ = _bdecode(r.stdout)
        return d.get(b"files", {}).get(info_hash, {})
    except (ValueError, IndexError, AttributeError):
        return None


def _stop(procs, grace=5.0):
    """SIGTERM the process groups, SIGKILL whatever is left after `grace` seconds."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.time() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


def _tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _aria2_common(n_peers):
    return [
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--seed-ratio=0.0",              # seed until stopped
        f"--bt-max-peers={max(55, n_peers + 5)}",
        "--max-overall-upload-limit=0", "--max-upload-limit=0",
        "--max-overall-download-limit=0", "--max-download-limit=0",
        "--file-allocation=none",
        "--summary-interval=0", "--console-log-level=warn", "--show-console-readout=false",
        "--enable-color=false", "--auto-file-renaming=false", "--allow-overwrite=true",
        "--follow-torrent=false",
    ]


# --- the benchmark ---------------------------------------------------------------------------


def run_bittorrent(topo, file_path, workdir, timeout=1800):
    """Seeds file_path from "origin" to every h* host of topo with aria2c; see module doc."""
    file_path = os.path.abspath(file_path)
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    leechers = [h for h in topo.hosts if h.startswith("h") and h[1:].isdigit()]
    if not leechers:
        raise ValueError("topology has no h* hosts")
    size = os.path.getsize(file_path)
    name = os.path.basename(file_path)
    origin_ip = topo.ip("origin")
    url_base = f"http://{origin_ip}:{TRACKER_PORT}"
    procs = []
    try:
        # 1. torrent ------------------------------------------------------------------------
        torrent = os.path.join(workdir, name + ".torrent")
        if os.path.exists(torrent):
            os.unlink(torrent)
        subprocess.run(["mktorrent", "-a", f"{url_base}/announce", "-l", str(_piece_log2(size)),
                        "-o", torrent, file_path], check=True, capture_output=True)
        with open(torrent, "rb") as f:
            info_hash = _info_hash(f.read())

        # 2. tracker ------------------------------------------------------------------------
        tdir = os.path.join(workdir, "tracker")
        os.makedirs(tdir, exist_ok=True)
        os.chmod(tdir, 0o755)  # opentracker chroots here and drops to "nobody"
        wl = os.path.join(tdir, "whitelist.txt")
        with open(wl, "w") as f:
            f.write(info_hash.hex() + "\n")
        os.chmod(wl, 0o644)
        tlog = open(os.path.join(workdir, "tracker.log"), "w")
        tracker = None
        if shutil.which("opentracker"):
            p = topo.popen("origin", ["opentracker", "-i", origin_ip, "-p", str(TRACKER_PORT),
                                      "-P", str(TRACKER_PORT), "-d", tdir, "-w", "whitelist.txt"],
                           stdout=tlog, stderr=subprocess.STDOUT)
            procs.append(p)
            deadline = time.time() + 10
            while time.time() < deadline and p.poll() is None:
                if _scrape(topo, "origin", url_base, info_hash) is not None:
                    tracker = f"opentracker {_pkg_version('opentracker')} (Debian, whitelist mode)"
                    break
                time.sleep(0.2)
            if tracker is None:
                _stop([p])
        if tracker is None:  # fallback: minimal python HTTP tracker
            p = topo.popen("origin", [sys.executable, "-c", _PY_TRACKER, origin_ip,
                                      str(TRACKER_PORT)], stdout=tlog, stderr=subprocess.STDOUT)
            procs.append(p)
            deadline = time.time() + 10
            while time.time() < deadline and p.poll() is None:
                if _scrape(topo, "origin", url_base, info_hash) is not None:
                    tracker = "minimal python HTTP tracker (bench/bittorrent.py fallback)"
                    break
                time.sleep(0.2)
            if tracker is None:
                raise RuntimeError("no tracker could be started:\n" + _tail(tlog.name))

        # 3. seeder -------------------------------------------------------------------------
        origin_if = _iface(topo, "origin")
        tx0 = _tx_bytes(topo, "origin", origin_if)
        sdir = os.path.join(workdir, "origin")
        os.makedirs(sdir, exist_ok=True)
        link = os.path.join(sdir, name)  # keeps aria2's files out of the source's directory
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(file_path, link)
        slog = os.path.join(workdir, "origin.log")
        seeder = topo.popen("origin", [
            "aria2c", *_aria2_common(len(leechers)), "--check-integrity=true",
            "--bt-seed-unverified=false", "--bt-hash-check-seed=true", f"--dir={sdir}",
            torrent], stdout=open(slog, "w"), stderr=subprocess.STDOUT)
        procs.append(seeder)
        deadline = time.time() + 60 + size / 20e6  # hashing the source at >= 20 MB/s
        while True:
            st = _scrape(topo, "origin", url_base, info_hash) or {}
            if st.get(b"complete", 0) >= 1:
                break
            if seeder.poll() is not None:
                raise RuntimeError("seeder exited:\n" + _tail(slog))
            if time.time() > deadline:
                raise RuntimeError("seeder never announced itself as complete:\n" + _tail(slog))
            time.sleep(0.2)

        # 4. leechers (timed) ---------------------------------------------------------------
        done_files, logs, outs, lprocs = {}, {}, {}, {}
        for h in leechers:
            d = os.path.join(workdir, h)
            if os.path.exists(d):
                shutil.rmtree(d)
            os.makedirs(d)
            done_files[h] = os.path.join(workdir, f"{h}.done")
            if os.path.exists(done_files[h]):
                os.unlink(done_files[h])
            hook = os.path.join(workdir, f"{h}.hook.sh")
            with open(hook, "w") as f:
                f.write("#!/bin/sh\n"
                        f"date +%s.%N > '{done_files[h]}.tmp' && mv '{done_files[h]}.tmp' "
                        f"'{done_files[h]}'\n")
            os.chmod(hook, os.stat(hook).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            logs[h] = os.path.join(workdir, f"{h}.log")
            outs[h] = os.path.join(d, name)
        argvs = {h: ["aria2c", *_aria2_common(len(leechers)),
                     f"--on-bt-download-complete={os.path.join(workdir, f'{h}.hook.sh')}",
                     f"--dir={os.path.join(workdir, h)}", torrent] for h in leechers}
        t0 = time.time()
        for h in leechers:
            lprocs[h] = topo.popen(h, argvs[h], stdout=open(logs[h], "w"),
                                   stderr=subprocess.STDOUT)
            procs.append(lprocs[h])
        times = {}
        deadline = t0 + timeout
        while len(times) < len(leechers):
            for h in leechers:
                if h in times:
                    continue
                if os.path.exists(done_files[h]):
                    with open(done_files[h]) as f:
                        times[h] = float(f.read().strip()) - t0
                elif lprocs[h].poll() is not None:
                    raise RuntimeError(f"{h}: aria2c exited ({lprocs[h].returncode}):\n"
                                       + _tail(logs[h]))
            if len(times) == len(leechers):
                break
            if seeder.poll() is not None:
                raise RuntimeError("seeder exited during the run:\n" + _tail(slog))
            if time.time() > deadline:
                missing = [h for h in leechers if h not in times]
                raise TimeoutError(f"bittorrent: {missing} not complete after {timeout}s")
            time.sleep(0.05)
        tx1 = _tx_bytes(topo, "origin", origin_if)
        _stop(procs)

        # 5. verify (untimed) ---------------------------------------------------------------
        want = _sha256(file_path)
        for h in leechers:
            got = _sha256(outs[h]) if os.path.exists(outs[h]) else "missing"
            if got != want:
                raise RuntimeError(f"{h}: sha256 mismatch ({got} != {want})")
            if os.path.exists(outs[h] + ".aria2"):
                raise RuntimeError(f"{h}: control file still present")
        return {
            "times": {h: round(times[h], 3) for h in leechers},
            "origin_egress_bytes": tx1 - tx0,
            "client": _aria2_version(),
            "tracker": tracker,
        }
    finally:
        _stop(procs)


def main():
    import argparse
    import tempfile

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from netns import Topology

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--rate", type=float, default=25, help="link cap, MB/s")
    ap.add_argument("--size-mb", type=int, default=16, help="file size, MiB")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bt-bench-")
    try:
        src = os.path.join(tmp, "blob.bin")
        with open(src, "wb") as f:
            for _ in range(a.size_mb):
                f.write(os.urandom(1 << 20))
        with Topology(n_hosts=a.hosts, rate_mbytes=a.rate) as topo:
            res = run_bittorrent(topo, src, os.path.join(tmp, "work"))
        size = a.size_mb << 20
        print(f"client: {res['client']}\ntracker: {res['tracker']}")
        print(f"{a.hosts} hosts, {a.rate:g} MB/s links, {a.size_mb} MiB file")
        for h, t in sorted(res["times"].items(), key=lambda kv: int(kv[0][1:])):
            print(f"  {h}: {t:8.3f} s")
        ts = sorted(res["times"].values())
        print(f"  first {ts[0]:.3f} s, median {ts[len(ts) // 2]:.3f} s, last {ts[-1]:.3f} s")
        print(f"origin egress: {res['origin_egress_bytes']} bytes "
              f"({res['origin_egress_bytes'] / size:.2f} x file size)")
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
