"""Runs a test command in the network view a user's machine has, for the dual-stack tests.

    isolate.py --stock-hosts -- CMD...  # private mount namespace whose /etc/hosts is Debian 12's
                                        # stock file: "localhost" resolves to ::1 first
    isolate.py --ipv6-only -- CMD...    # the same inside a private network namespace whose
                                        # loopback has ::1 only (127.0.0.1 removed); every
                                        # harness process listens on ::1 (DF_E2E_HOST=::1)

DF_E2E_ISOLATION tells the tests what they run in ("stock-hosts", "ipv6-only"); they check it
themselves. Without root (or unshare and ip) the tests skip and say why; as root a namespace
that cannot be made is an error (exit 2), never a silent skip. Exits with CMD's exit code; the
network namespace is removed afterwards.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

# /etc/hosts as debootstrap + the Debian 12 installer write it.
STOCK_HOSTS = """127.0.0.1\tlocalhost
127.0.1.1\t{hostname}

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
"""


def run(argv, env=None):
    return subprocess.run(argv, env=env).returncode


def unavailable(cmd, why):
    print(f"isolate.py: cannot isolate ({why}); the tests will skip", file=sys.stderr)
    return run(cmd, dict(os.environ, DF_E2E_ISOLATION="unavailable", DF_E2E_ISOLATION_WHY=why))


def fail(why):
    print(f"isolate.py: {why}", file=sys.stderr)
    return 2


def with_stock_hosts(cmd, env):
    # unshare --propagation needs / to be a mount point (it is not in a bare chroot).
    if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                      capture_output=True).returncode != 0:
        return fail("unshare --mount --propagation private fails here (is / a mount point?)")
    fd, hosts = tempfile.mkstemp(prefix="df-e2e-hosts-")
    with os.fdopen(fd, "w") as f:
        f.write(STOCK_HOSTS.format(hostname=socket.gethostname()))
    os.chmod(hosts, 0o644)
    try:
        return run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                    'mount --bind "$0" /etc/hosts && exec "$@"', hosts, *cmd], env)
    finally:
        os.unlink(hosts)


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    opts, cmd = args[:args.index("--")], args[args.index("--") + 1:]
    ipv6_only = "--ipv6-only" in opts
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return unavailable(cmd, "needs root, unshare and ip")
    env = dict(os.environ, DF_E2E_ISOLATION="ipv6-only" if ipv6_only else "stock-hosts")
    if not ipv6_only:
        return with_stock_hosts(cmd, env)
    ns = f"df-e2e-v6-{os.getpid()}"
    if run(["ip", "netns", "add", ns]) != 0:
        return fail("ip netns add failed")
    try:
        if (run(["ip", "-n", ns, "link", "set", "lo", "up"]) != 0 or
                run(["ip", "-n", ns, "addr", "del", "127.0.0.1/8", "dev", "lo"]) != 0):
            return fail("cannot set up the namespace's loopback")
        env["DF_E2E_HOST"] = "::1"
        return with_stock_hosts(["ip", "netns", "exec", ns, *cmd], env)
    finally:
        run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    sys.exit(main())
