"""The Kubernetes manifests (deploy/kubernetes, issue #16): every overlay renders with
`kubectl kustomize` -- Debian 12's kubectl 1.20 (kustomize 2.0) and a newer one when the machine
has both -- every rendered object validates against its kind's schema (test/k8s/validate.mjs:
the Kubernetes API's and the Prometheus Operator's), and the objects fit together: what a pod
mounts exists, every workload has probes and resource requests, every config in a ConfigMap or
Secret is one the component accepts (`config validate`), and the production overlay names the
seed peers' storage class."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from cluster import BIN, ROOT

OVERLAYS = ["local", "production", "containerd-restart"]
DEBIAN_KUBECTL = "/opt/dragonfly-test/kubernetes-client/usr/bin/kubectl"
VALIDATOR = os.path.join(ROOT, "test", "k8s")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# Which binary reads a config file named so in a ConfigMap or Secret.
CONFIG_READERS = {"manager.yaml": "manager", "scheduler.yaml": "scheduler",
                  "dfdaemon.yaml": "dfdaemon"}


def kubectls():
    found = []
    for k in (shutil.which("kubectl"), DEBIAN_KUBECTL):
        if k and os.path.exists(k) and os.path.realpath(k) not in [os.path.realpath(f) for f in found]:
            found.append(k)
    return found


def render(kubectl, overlay):
    r = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, "deploy", "kubernetes",
                                                           "overlays", overlay)],
                       capture_output=True, text=True, timeout=120)
    return r


def as_json(yaml_text):
    """The objects of a rendered file, through the validator's YAML parser (python has none)."""
    r = subprocess.run(["node", "-e", """
        const { parseAllDocuments } = require("yaml");
        const docs = parseAllDocuments(require("fs").readFileSync(0, "utf8"));
        console.log(JSON.stringify(docs.map((d) => d.toJS()).filter(Boolean)));"""],
                       input=yaml_text, capture_output=True, text=True, cwd=VALIDATOR, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@unittest.skipUnless(kubectls(), "needs kubectl (scripts/install-deps.sh installs Debian's)")
@unittest.skipUnless(os.path.isdir(os.path.join(VALIDATOR, "node_modules")),
                     "needs `npm ci` in test/k8s (the project's build does it)")
class KubernetesManifestsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="df-k8s-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_every_overlay_renders_with_every_kubectl_and_validates(self):
        for kubectl in kubectls():
            for overlay in OVERLAYS:
                with self.subTest(kubectl=kubectl, overlay=overlay):
                    r = render(kubectl, overlay)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    path = os.path.join(self.dir, f"{overlay}.yaml")
                    with open(path, "w") as f:
                        f.write(r.stdout)
                    v = subprocess.run(["node", "validate.mjs", path], capture_output=True,
                                       text=True, cwd=VALIDATOR, timeout=120)
                    self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                    self.assertGreaterEqual(v.stdout.count("ok: "), 15, v.stdout)

    def test_the_objects_fit_together(self):
        for kubectl in kubectls():
            for overlay in OVERLAYS:
                with self.subTest(kubectl=kubectl, overlay=overlay):
                    objects = as_json(render(kubectl, overlay).stdout)
                    self.check(overlay, objects)

    def check(self, overlay, objects):
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        for o in objects:
            if o["kind"] != "Namespace":
                self.assertEqual(o["metadata"].get("namespace"), "dragonfly-system",
                                 o["metadata"]["name"])
        workloads = [o for o in objects if o["kind"] in WORKLOADS]
        self.assertEqual(sorted(w["metadata"]["name"] for w in workloads),
                         ["dfdaemon", "manager", "scheduler", "seed-peer"])
        for w in workloads:
            spec = w["spec"]["template"]["spec"]
            claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
            for v in spec.get("volumes", []):  # what a pod mounts exists
                if "configMap" in v:
                    self.assertIn(("ConfigMap", v["configMap"]["name"]), names)
                if "secret" in v:
                    self.assertIn(("Secret", v["secret"]["secretName"]), names)
                if "persistentVolumeClaim" in v:
                    self.assertIn(("PersistentVolumeClaim",
                                   v["persistentVolumeClaim"]["claimName"]), names)
            for c in spec.get("initContainers", []) + spec["containers"]:
                self.assertTrue(c["image"].split("/")[-1].startswith(("manager:", "scheduler:",
                                                                     "dfdaemon:")), c["image"])
            for c in spec["containers"]:
                what = f"{w['metadata']['name']}/{c['name']}"
                self.assertIn("readinessProbe", c, what)
                self.assertIn("livenessProbe", c, what)
                self.assertIn("requests", c.get("resources", {}), what)
                for probe in (c["readinessProbe"], c["livenessProbe"]):
                    if "exec" in probe:
                        self.check_exec_probe(what, probe["exec"]["command"])
                mounted = {m["name"] for m in c.get("volumeMounts", [])}
                self.assertTrue(mounted <= {v["name"] for v in spec.get("volumes", [])} | claims,
                                what)
        daemonset = next(w for w in workloads if w["kind"] == "DaemonSet")
        self.assertTrue(daemonset["spec"]["template"]["spec"]["hostNetwork"])
        init = [c["name"] for c in daemonset["spec"]["template"]["spec"]["initContainers"]]
        self.assertIn("containerd-hosts", init)
        self.assertEqual("containerd-restart" in init, overlay == "containerd-restart")
        budgets = {o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
                   for o in objects if o["kind"] == "PodDisruptionBudget"}
        self.assertEqual(budgets, {"manager", "scheduler", "seed-peer"})
        manager = next(w for w in workloads if w["metadata"]["name"] == "manager")
        volumes = {v["name"]: v for v in manager["spec"]["template"]["spec"]["volumes"]}
        if overlay == "local":  # SQLite on a claim, one replica
            self.assertEqual(volumes["data"]["persistentVolumeClaim"]["claimName"], "manager-data")
            self.assertEqual(manager["spec"]["replicas"], 1)
        else:  # PostgreSQL, its password in a Secret
            self.assertIn("secret", volumes["config"])
            self.assertEqual(manager["spec"]["replicas"], 2)
        seed = next(w for w in workloads if w["metadata"]["name"] == "seed-peer")
        storage_class = seed["spec"]["volumeClaimTemplates"][0]["spec"].get("storageClassName")
        self.assertEqual(storage_class, None if overlay == "local" else "fast-ssd")
        # The monitors select services and pods that exist, by a port they name.
        for m in objects:
            if m["kind"] not in ("ServiceMonitor", "PodMonitor"):
                continue
            kind = "Service" if m["kind"] == "ServiceMonitor" else "Pod"
            wanted = m["spec"]["selector"]
            targets = [o for o in objects if o["kind"] == "Service" and self.selects(
                wanted, o["metadata"].get("labels", {}))] if kind == "Service" else [
                w for w in workloads if self.selects(
                    wanted, w["spec"]["template"]["metadata"].get("labels", {}))]
            self.assertTrue(targets, f"{m['kind']}/{m['metadata']['name']} selects nothing")
            for t in targets:
                ports = ([p["name"] for p in t["spec"]["ports"]] if kind == "Service" else
                         [p["name"] for c in t["spec"]["template"]["spec"]["containers"]
                          for p in c.get("ports", [])])
                self.assertIn("metrics", ports, t["metadata"]["name"])
        # Every config a pod mounts is one its component accepts.
        mounted_configs = set()
        for w in workloads:
            for v in w["spec"]["template"]["spec"].get("volumes", []):
                ref = v.get("configMap", {}).get("name") or v.get("secret", {}).get("secretName")
                if ref:
                    mounted_configs.add(ref)
        checked = 0
        for o in objects:
            if o["kind"] not in ("ConfigMap", "Secret") or o["metadata"]["name"] not in mounted_configs:
                continue
            data = dict(o.get("data", {}))
            if o["kind"] == "Secret":
                data = {k: base64.b64decode(v).decode() for k, v in data.items()}
            for key, text in data.items():
                path = os.path.join(self.dir, f"{overlay}-{o['metadata']['name']}-{key}")
                with open(path, "w") as f:
                    f.write(text)
                r = subprocess.run([os.path.join(BIN, CONFIG_READERS[key]), "config", "validate",
                                    path], capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, f"{overlay} {o['metadata']['name']}: {r.stderr}")
                checked += 1
        self.assertEqual(checked, 4, "manager, scheduler, seed peer and dfdaemon configs")


    @staticmethod
    def selects(selector, labels):
        ok = all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
        for e in selector.get("matchExpressions", []):
            ok = ok and e["operator"] == "In" and labels.get(e["key"]) in e["values"]
        return ok

    def check_exec_probe(self, what, command):
        """An exec probe's command line is one its binary accepts: run against a socket that
        does not exist, it says "unreachable" (3), not "usage" (2)."""
        if command[:2] == ["sh", "-c"]:
            r = subprocess.run(["sh", "-c", command[2].replace("dfctl", os.path.join(BIN, "dfctl"))
                                .replace("/run/dragonfly/dfdaemon.sock", "/nonexistent.sock")],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, f"{what}: liveness must fail when unreachable")
            return
        argv = [os.path.join(BIN, command[0])] + [
            "/nonexistent.sock" if a.endswith(".sock") else a for a in command[1:]]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, f"{what}: {command}: {r.stderr}")

    @unittest.skipUnless(shutil.which("containerd"), "needs containerd (scripts/install-deps.sh)")
    def test_the_containerd_restart_step_edits_configs_containerd_accepts(self):
        objects = as_json(render(kubectls()[0], "containerd-restart").stdout)
        daemonset = next(o for o in objects if o["kind"] == "DaemonSet")
        step = next(c for c in daemonset["spec"]["template"]["spec"]["initContainers"]
                    if c["name"] == "containerd-restart")
        script = step["command"][-1]
        default = subprocess.run(["containerd", "config", "default"], capture_output=True,
                                 text=True, timeout=60).stdout
        want = 'config_path = "/etc/containerd/certs.d"'
        for case, text, restarts, code in (
                ("containerd's default config", default, True, 0),
                ("an empty config", "", True, 0),
                ("a config already set", f'version = 2\n[plugins."io.containerd.grpc.v1.cri".'
                                         f'registry]\n  {want}\n', False, 0),
                ("containerd 2's config", "version = 3\n", False, 0),
                ("a version 1 config", "[plugins.cri]\n  sandbox_image = \"x\"\n", False, 1)):
            with self.subTest(case):
                conf = os.path.join(self.dir, "config.toml")
                with open(conf, "w") as f:
                    f.write(text)
                r = subprocess.run(["sh", "-c", script.replace("/etc/containerd/config.toml", conf)
                                    .replace("systemctl restart containerd", "echo RESTARTED")],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertEqual("RESTARTED" in r.stdout, restarts, r.stdout)
                dump = subprocess.run(["containerd", "--config", conf, "config", "dump"],
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(dump.returncode, 0, dump.stderr)
                if code == 0 and "version = 3" not in text:
                    self.assertIn(want, dump.stdout, case)


if __name__ == "__main__":
    unittest.main()
