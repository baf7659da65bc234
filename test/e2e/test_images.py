"""The container images (issue #16): built without a Docker daemon by
deploy/images/build-images.py (umoci) from this build, pushed to a real registry (Debian's
docker-registry) with skopeo, pulled by a real containerd through our own registry mirror (the
layers come through P2P: the registry serves each blob once), and the dfdaemon image run with
`ctr run` on the host network: it serves `dfget` on the host. The scheduler and manager images
run read-only and serve too."""

import json
import os
import shutil
import subprocess
import unittest

import registry as R
from cluster import BIN, ROOT, hostport, sha256_file, wait_for

BUILD = os.path.dirname(BIN)
NEEDED = ["umoci", "objcopy", R.SKOPEO_BIN, R.REGISTRY_BIN, R.CONTAINERD_BIN, R.CTR_BIN, "runc"]
MISSING = [p for p in NEEDED if not shutil.which(p)]
IMAGES = ["dfdaemon", "scheduler", "manager"]


@unittest.skipIf(MISSING, f"missing programs: {MISSING} (scripts/install-deps.sh)")
@unittest.skipIf(os.geteuid() != 0, "umoci and containerd need root")
class ImagesTest(R.ClusterWithRegistryTest):
    PREFIX = "df-images-e2e-"

    @classmethod
    def start_processes(cls):
        cls.layout = cls.env.path("oci")
        r = subprocess.run([os.path.join(ROOT, "deploy", "images", "build-images.py"),
                            "--build-dir", BUILD, "--out", cls.layout],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        cls.reg = cls.env.registry()  # plain HTTP on loopback
        sched = cls.c.scheduler()
        proxy = {"listen": "127.0.0.1:0", "registryMirror": {"addr": cls.reg.url}}
        cls.seed = cls.c.daemon("seed", sched, seed=True, extra={"proxy": proxy})
        cls.host = cls.c.daemon("host-a", sched, extra={"proxy": proxy})
        cls.ctd = cls.env.containerd("containerd-a")

    def config(self, name):
        r = subprocess.run([R.SKOPEO_BIN, "inspect", "--config", f"oci:{self.layout}:{name}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def push(self, name):
        ref = f"{self.reg.host}/dragonfly/{name}:test"
        r = subprocess.run([R.SKOPEO_BIN, "copy", "--dest-tls-verify=false",
                            f"oci:{self.layout}:{name}", f"docker://{ref}"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return ref

    def test_1_images_are_non_root_with_the_component_as_entrypoint(self):
        for name in IMAGES:
            c = self.config(name)
            self.assertEqual(c["config"]["User"], "999:999", name)
            self.assertEqual(c["config"]["Cmd"], ["--config", f"/etc/dragonfly/{name}.yaml"])
            self.assertEqual(c["config"]["Labels"]["org.opencontainers.image.version"],
                             subprocess.run([os.path.join(BIN, "dfdaemon"), "--version"],
                                            capture_output=True, text=True).stdout.split()[1])
            self.assertEqual(len(c["rootfs"]["diff_ids"]), 1, "one layer, made by the build")

    def test_2_pulled_through_the_mirror_and_run_the_daemon_serves_dfget(self):
        ref = self.push("dfdaemon")
        manifest = json.loads(subprocess.run(
            [R.SKOPEO_BIN, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            capture_output=True, text=True, timeout=60).stdout)
        blobs = [manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]
        self.reg.reset_access_log()
        # containerd pulls through host-a's registry mirror (hosts.toml written by dfinit).
        hosts = self.env.path("certs.d")
        r = subprocess.run([os.path.join(BIN, "dfinit"), "containerd", "--certs-dir", hosts,
                            "--mirror", f"http://127.0.0.1:{self.host.proxy_port}",
                            "--registry", f"{self.reg.host}={self.reg.url}"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.host.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"})
        r = self.ctd.pull(ref, hosts)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(
            self.host.metric("dragonfly_dfdaemon_proxy_requests_total", {"kind": "p2p"}) - before,
            len(manifest["layers"]))
        for d in blobs:
            self.assertLessEqual(self.reg.blob_gets(d, status=(200, 206)), 1, d)
        self.assertEqual(self.reg.blob_gets(manifest["layers"][0]["digest"], status=(200, 206)),
                         1, "the layer came from the registry once (to the seed peer)")

        # The daemon in the image, on the host network. Its store and socket are host
        # directories mounted at the same paths (as the DaemonSet does with the node's), owned
        # by the image's user: dfget on the host reads finished downloads from the store.
        run_dir, store = self.env.path("ctr-run"), self.env.path("ctr-store")
        conf_dir = self.env.path("ctr-etc")
        for d in (run_dir, store, conf_dir):
            os.makedirs(d)
            os.chown(d, 999, 999)
        socket = os.path.join(run_dir, "dfdaemon.sock")
        ports = {k: R.free_port() for k in ("pieces", "rpc", "metrics")}
        with open(os.path.join(conf_dir, "dfdaemon.yaml"), "w") as f:
            json.dump({"server": {"socketPath": socket}, "storage": {"dir": store},
                       "upload": {"listen": hostport(ports["pieces"], "127.0.0.1"),
                                  "rpcListen": hostport(ports["rpc"], "127.0.0.1")},
                       "metrics": {"listen": hostport(ports["metrics"], "127.0.0.1")},
                       "proxy": {"listen": ""}}, f)
        os.chmod(os.path.join(conf_dir, "dfdaemon.yaml"), 0o644)
        name = "dfdaemon-image-test"
        r = self.ctd.ctr("run", "-d", "--net-host",
                         "--mount", f"type=bind,src={run_dir},dst={run_dir},options=rbind:rw",
                         "--mount", f"type=bind,src={store},dst={store},options=rbind:rw",
                         "--mount", f"type=bind,src={conf_dir},dst=/etc/dragonfly,options=rbind:ro",
                         ref, name, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr + self.ctd.logs()[-2000:])
        try:
            wait_for(lambda: os.path.exists(socket), timeout=60,
                     what="the containerised dfdaemon's socket")
            health = subprocess.run([os.path.join(BIN, "dfctl"), "-e", socket, "health"],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual((health.returncode, health.stdout.strip()), (0, "SERVING"),
                             health.stderr)
            origin = self.c.origin()
            want = sha256_file(self.c.make_file("f.bin", 3 * 1024 * 1024))
            out = self.env.path("f.out")
            r = subprocess.run([os.path.join(BIN, "dfget"), origin.url("f.bin"), "-O", out,
                                "-e", socket], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sha256_file(out), want)
            # Its files are the image's user's, in the host's store.
            owners = {os.stat(os.path.join(dp, f)).st_uid
                      for dp, _, fs in os.walk(store) for f in fs}
            self.assertEqual(owners, {999})
        finally:
            self.ctd.ctr("task", "kill", "--signal", "SIGTERM", name, timeout=60)
            wait_for(lambda: "STOPPED" in self.ctd.ctr("task", "ls", timeout=30).stdout
                     or name not in self.ctd.ctr("task", "ls", timeout=30).stdout,
                     timeout=60, what="the container to stop")
            self.ctd.ctr("task", "rm", "-f", name, timeout=60)
            self.ctd.ctr("container", "rm", name, timeout=60)

    def test_3_the_scheduler_and_manager_images_serve_read_only(self):
        """As the manifests run them: a read-only root filesystem (`ctr run --read-only`), a
        config mounted over /etc/dragonfly, the manager's SQLite in a mounted directory; both
        answer their gRPC health, and the manager serves the console from the image."""
        hosts = self.env.path("certs.d")
        os.makedirs(hosts, exist_ok=True)
        started = []
        try:
            for name in ("scheduler", "manager"):
                ref = self.push(name)
                r = self.ctd.pull(ref, hosts, plain_http=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                conf_dir, data = self.env.path(f"{name}-etc"), self.env.path(f"{name}-data")
                for d in (conf_dir, data):
                    os.makedirs(d)
                    os.chown(d, 999, 999)
                grpc, metrics, rest = R.free_port(), R.free_port(), R.free_port()
                if name == "scheduler":
                    config = {"server": {"listen": hostport(grpc, "127.0.0.1")},
                              "metrics": {"listen": hostport(metrics, "127.0.0.1")}}
                else:
                    config = {"server": {"rest": {"addr": hostport(rest, "127.0.0.1")},
                                         "grpc": {"addr": hostport(grpc, "127.0.0.1")}},
                              "database": {"type": "sqlite",
                                           "sqlite": {"path": os.path.join(data, "manager.db")}}}
                with open(os.path.join(conf_dir, f"{name}.yaml"), "w") as f:
                    json.dump(config, f)
                os.chmod(os.path.join(conf_dir, f"{name}.yaml"), 0o644)
                container = f"{name}-image-test"
                r = self.ctd.ctr("run", "-d", "--net-host", "--read-only",
                                 "--mount", f"type=bind,src={data},dst={data},options=rbind:rw",
                                 "--mount", f"type=bind,src={conf_dir},dst=/etc/dragonfly,"
                                            "options=rbind:ro", ref, container, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                started.append(container)

                def serving():
                    h = subprocess.run([os.path.join(BIN, "dfctl"), "health", "--addr",
                                        hostport(grpc, "127.0.0.1")],
                                       capture_output=True, text=True, timeout=30)
                    return h.returncode == 0 and h.stdout.strip() == "SERVING"
                wait_for(serving, timeout=60, what=f"the {name} container to serve")
                if name == "manager":
                    page = subprocess.run(["curl", "-sS", f"http://{hostport(rest, '127.0.0.1')}/"],
                                          capture_output=True, text=True, timeout=30)
                    self.assertIn("<title>Dragonfly", page.stdout, "the image's console")
                    st = os.stat(os.path.join(data, "manager.db"))
                    self.assertEqual(st.st_uid, 999, "the database is the image user's")
        finally:
            for container in started:
                self.ctd.ctr("task", "kill", "--signal", "SIGTERM", container, timeout=60)
                wait_for(lambda: container not in self.ctd.ctr("task", "ls", timeout=30).stdout
                         or "STOPPED" in self.ctd.ctr("task", "ls", timeout=30).stdout,
                         timeout=60, what=f"{container} to stop")
                self.ctd.ctr("task", "rm", "-f", container, timeout=60)
                self.ctd.ctr("container", "rm", container, timeout=60)


if __name__ == "__main__":
    unittest.main()
