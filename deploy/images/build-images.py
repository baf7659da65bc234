#!/usr/bin/env python3
"""Builds the container images -- dragonfly/dfdaemon, dragonfly/scheduler, dragonfly/manager --
without a Docker daemon, into an OCI image layout (umoci), from a build directory:

    deploy/images/build-images.py --build-dir build --out images [--tag 0.9.0]
    skopeo copy oci:images:dfdaemon docker://registry.example.com/dragonfly/dfdaemon:0.9.0

Each image is one layer made here, distroless-style: the component's binaries (stripped), the
exact shared libraries they load (their ldd closure, copied from this machine's Debian 12),
CA certificates, /etc/passwd and /etc/group with the user "dragonfly" (999), the packaged default
config, and nothing else -- no shell, no package manager -- except in the dfdaemon image, whose
Kubernetes init steps need `sh`, `chown` (busybox, static) and `nsenter`. Every image runs as
999:999; its entrypoint is the component and its command `--config /etc/dragonfly/<name>.yaml`.
Needs root (umoci unpack/repack keep owners), umoci, objcopy and, for the dfdaemon image,
busybox-static and util-linux.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UID = GID = 999

# name -> (binaries from the build's bin/ as they are named in the image, entry, config)
IMAGES = {
    "dfdaemon": ({"dfdaemon": "dfdaemon", "dfget": "dfget", "dfctl": "dfctl",
                  "dfcache": "dfcache", "dfinit": "dfinit", "dfcert": "dfcert"},
                 "dfdaemon", "dfdaemon.yaml"),
    "scheduler": ({"scheduler": "dragonfly-scheduler"}, "dragonfly-scheduler", "scheduler.yaml"),
    "manager": ({"manager": "dragonfly-manager"}, "dragonfly-manager", "manager.yaml"),
}
# Host programs the dfdaemon image carries for its Kubernetes init steps.
EXTRA_PROGRAMS = {"dfdaemon": ["/usr/bin/nsenter"]}
BUSYBOX_APPLETS = ["sh", "chown", "chmod", "mkdir", "cat", "grep", "sed", "printf"]

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\n" \
         f"dragonfly:x:{UID}:{GID}:Dragonfly:/var/lib/dragonfly:/sbin/nologin\n" \
         "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
GROUP = f"root:x:0:\ndragonfly:x:{GID}:\nnogroup:x:65534:\n"


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"build-images: {' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def shared_libraries(program):
    """The absolute paths ldd resolves for `program`, the dynamic loader included."""
    r = subprocess.run(["ldd", program], capture_output=True, text=True)
    if "not a dynamic executable" in r.stdout + r.stderr:
        return []
    if r.returncode != 0:
        sys.exit(f"build-images: ldd {program}: {r.stderr.strip()}")
    libs = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            path = parts[parts.index("=>") + 1]
            if path == "not":
                sys.exit(f"build-images: {program}: {line.strip()}")
            if path.startswith("/"):
                libs.append(path)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def copy_into(rootfs, src, dest=None, mode=None):
    """Copies src (following links) to the same path, or `dest`, below rootfs; /lib and /lib64
    paths land under usr/ (the image is merged-/usr like Debian 12)."""
    rel = (dest or src).lstrip("/")
    for short in ("lib/", "lib64/", "bin/", "sbin/"):
        if rel.startswith(short):
            rel = "usr/" + rel
    target = os.path.join(rootfs, rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(src, target)
    os.chmod(target, mode if mode is not None else os.stat(src).st_mode & 0o777)
    return target


def make_rootfs(rootfs, name, bin_dir, console_dir):
    binaries, _, config = IMAGES[name]
    for d in ("usr/bin", "usr/lib", "usr/lib64", "etc/ssl/certs", "tmp", "etc/dragonfly"):
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    os.makedirs(os.path.join(rootfs, "var"), exist_ok=True)
    for link, to in (("bin", "usr/bin"), ("sbin", "usr/bin"), ("lib", "usr/lib"),
                     ("lib64", "usr/lib64"), ("var/run", "../run")):  # /var/run/dragonfly: defaults
        os.symlink(to, os.path.join(rootfs, link))
    os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
    programs = []
    for built, installed in binaries.items():
        target = copy_into(rootfs, os.path.join(bin_dir, built), f"/usr/bin/{installed}", 0o755)
        run(["objcopy", "--strip-unneeded", target])
        programs.append(os.path.join(bin_dir, built))
    for program in EXTRA_PROGRAMS.get(name, []):
        copy_into(rootfs, program, mode=0o755)
        programs.append(program)
    if name == "dfdaemon":
        copy_into(rootfs, "/bin/busybox", "/usr/bin/busybox", 0o755)
        programs.append("/bin/busybox")  # (busybox-static: no libraries)
        for applet in BUSYBOX_APPLETS:
            os.symlink("busybox", os.path.join(rootfs, "usr/bin", applet))
    for lib in sorted({lib for p in programs for lib in shared_libraries(p)}):
        copy_into(rootfs, lib, mode=0o755 if "ld-linux" in lib else 0o644)
    if name == "manager" and console_dir:
        shutil.copytree(console_dir, os.path.join(rootfs, "usr/share/dragonfly/console"))
    copy_into(rootfs, "/etc/ssl/certs/ca-certificates.crt", mode=0o644)
    for path, text in (("etc/passwd", PASSWD), ("etc/group", GROUP),
                       ("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")):
        with open(os.path.join(rootfs, path), "w") as f:
            f.write(text)
    copy_into(rootfs, os.path.join(ROOT, "deploy", "config", config),
              f"/etc/dragonfly/{config}", 0o644)
    for d in ("var/lib/dragonfly", "run/dragonfly"):  # the user's: state, socket
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        os.chown(os.path.join(rootfs, d), UID, GID)
        os.chmod(os.path.join(rootfs, d), 0o750)


def build(out, name, tag, bin_dir, console_dir, revision):
    _, entry, config = IMAGES[name]
    image = f"{out}:{name}"
    if name in run(["umoci", "ls", "--layout", out]).split():
        run(["umoci", "rm", "--image", image])
    with tempfile.TemporaryDirectory(prefix=f"df-image-{name}-") as work:
        bundle = os.path.join(work, "bundle")
        run(["umoci", "new", "--image", image])
        run(["umoci", "unpack", "--image", image, bundle])
        make_rootfs(os.path.join(bundle, "rootfs"), name, bin_dir, console_dir)
        run(["umoci", "repack", "--image", image, bundle])
    run(["umoci", "config", "--image", image, "--config.user", f"{UID}:{GID}",
         "--config.entrypoint", f"/usr/bin/{entry}",
         "--config.cmd=--config", f"--config.cmd=/etc/dragonfly/{config}",
         "--config.env", "PATH=/usr/bin", "--config.workingdir", "/",
         "--config.label", f"org.opencontainers.image.title=dragonfly-{name}",
         "--config.label", f"org.opencontainers.image.version={tag}",
         "--config.label", f"org.opencontainers.image.revision={revision}",
         "--config.label", "org.opencontainers.image.description=Dragonfly P2P distribution"])
    run(["umoci", "gc", "--layout", out])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    p.add_argument("--out", required=True, help="OCI image layout directory to write")
    p.add_argument("--tag", help="image version (default: the binaries' --version)")
    p.add_argument("images", nargs="*", default=list(IMAGES), help="which (default: all)")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("build-images: needs root (umoci keeps file owners)")
    bin_dir = os.path.join(a.build_dir, "bin")
    console = os.path.join(a.build_dir, "console")
    version = run([os.path.join(bin_dir, "dfdaemon"), "--version"]).split()
    tag = a.tag or version[1]
    revision = version[3].rstrip(",")
    if not os.path.exists(os.path.join(a.out, "index.json")):
        run(["umoci", "init", "--layout", a.out])
    for name in a.images:
        if name not in IMAGES:
            sys.exit(f"build-images: unknown image {name} (one of {', '.join(IMAGES)})")
        build(a.out, name, tag, bin_dir, console if os.path.isdir(console) else None, revision)
        print(json.dumps({"image": name, "layout": f"oci:{a.out}:{name}", "version": tag}))


if __name__ == "__main__":
    main()
