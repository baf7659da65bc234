"""Hosts as Linux network namespaces on one bridge, each link capped in both directions.

    topo = Topology(n_hosts=8, rate_mbytes=25, extra=["seed"])  # h1..hN, "origin", "seed"
    with topo:                                   # creates; always tears down (also on Ctrl-C)
        topo.ip("h1")                            # "10.77.0.11"
        topo.run("h1", ["curl", ...])            # subprocess.run inside the namespace
        p = topo.popen("origin", [...])          # subprocess.Popen inside the namespace

Each host has a veth pair: one end in its namespace (address 10.77.0.<10+i>/16, origin .2),
the other on the bridge `dfb-<tag>`. A tbf qdisc on the namespace end caps the host's upload, one
on the bridge end caps its download. Needs root and iproute2. Addresses are in a private range
used only inside these namespaces, which this module creates and deletes itself.
"""

import atexit
import os
import signal
import subprocess

SUBNET = "10.77"


def _sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


class Topology:
    def __init__(self, n_hosts, rate_mbytes=25, tag=None, latency_ms=0, extra=(), rates=None):
        """extra: names of additional hosts (e.g. "seed"), addressed 10.77.0.3, .4, ...;
        rates: {host: MB/s} for hosts whose links differ from rate_mbytes."""
        if n_hosts < 1 or n_hosts > 200:
            raise ValueError("n_hosts must be in [1, 200]")
        self.tag = tag or str(os.getpid() % 100000)
        self.rate_mbytes = rate_mbytes
        self.latency_ms = latency_ms
        self.extra = list(extra)
        self.rates = dict(rates or {})
        self.hosts = ["origin"] + self.extra + [f"h{i}" for i in range(1, n_hosts + 1)]
        self.bridge = f"dfb-{self.tag}"
        self.procs = []
        self._up = False

    # --- names and addresses -------------------------------------------------------------
    def ns(self, host):
        return f"df-{self.tag}-{host}"

    def ip(self, host):
        if host == "origin":
            return f"{SUBNET}.0.2"
        if host in self.extra:
            return f"{SUBNET}.0.{3 + self.extra.index(host)}"
        return f"{SUBNET}.0.{10 + int(host[1:])}"

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        self._old_int = signal.signal(signal.SIGINT, self._on_signal)
        self._old_term = signal.signal(signal.SIGTERM, self._on_signal)
        atexit.register(self.down)
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        signal.signal(signal.SIGINT, self._old_int)
        signal.signal(signal.SIGTERM, self._old_term)
        return False

    def _on_signal(self, signum, frame):
        self.down()
        raise KeyboardInterrupt

    def up(self):
        self._up = True
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "link", "set", self.bridge, "up")
        for i, h in enumerate(self.hosts):
            rate = f"{self.rates.get(h, self.rate_mbytes) * 8}mbit"
            # burst must hold at least rate/HZ; 1 MiB is plenty at these rates.
            tbf = ["tbf", "rate", rate, "burst", "1mb", "latency", "100ms"]
            ns = self.ns(h)
            outer, inner = f"dfv{self.tag}o{i}", f"dfv{self.tag}i{i}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _sh("ip", "link", "set", inner, "netns", ns)
            _sh("ip", "link", "set", outer, "master", self.bridge)
            _sh("ip", "link", "set", outer, "up")
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{self.ip(h)}/16", "dev", inner)
            _sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
            if self.rate_mbytes > 0:
                _sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", inner, "root", *tbf)
                _sh("tc", "qdisc", "add", "dev", outer, "root", *tbf)

    def down(self):
        if not self._up:
            return
        self._up = False
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        for h in self.hosts:
            # Kill anything left in the namespace, then delete it.
            pids = _sh("ip", "netns", "pids", self.ns(h), check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            _sh("ip", "netns", "del", self.ns(h), check=False)
        _sh("ip", "link", "del", self.bridge, check=False)

    # --- running programs ------------------------------------------------------------------
    def argv(self, host, argv):
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def run(self, host, argv, **kw):
        return subprocess.run(self.argv(host, argv), **kw)

    def popen(self, host, argv, **kw):
        p = subprocess.Popen(self.argv(host, argv), start_new_session=True, **kw)
        self.procs.append(p)
        return p


def cleanup_stale(prefix="df-"):
    """Deletes namespaces and bridges left by a killed run (best effort)."""
    for line in _sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(prefix):
            _sh("ip", "netns", "del", name, check=False)
    for line in _sh("ip", "-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        name = line.split(":")[1].strip()
        if name.startswith("dfb-"):
            _sh("ip", "link", "del", name, check=False)
