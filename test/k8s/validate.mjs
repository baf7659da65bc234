// Validates every object of rendered Kubernetes manifests (a multi-document YAML file, e.g. the
// output of `kubectl kustomize deploy/kubernetes/overlays/production`) against its kind's schema:
// the Kubernetes API's (kubernetes-models) and the Prometheus Operator's. An object of a kind
// with no schema here is an error, not a pass.
//   node validate.mjs FILE     prints "ok: Kind/name" per object; exits 1 at any invalid object
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: node validate.mjs RENDERED.yaml");
  process.exit(2);
}

// apiVersion + kind -> the module that has its class.
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

let failed = 0;
let count = 0;
for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
  if (doc.errors.length) {
    console.log(`invalid YAML: ${doc.errors[0].message}`);
    failed += 1;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null) continue;
  count += 1;
  const what = `${obj.kind}/${obj.metadata?.name}`;
  if (obj.kind === "Secret" && obj.data) {
    // kustomize writes long base64 as a block with line breaks, which the API server's decoder
    // skips (Go's base64 ignores \n); the schema's "byte" format does not.
    for (const k of Object.keys(obj.data)) obj.data[k] = String(obj.data[k]).replace(/\n/g, "");
  }
  let Kind;
  try {
    Kind = (await import(modulePath(obj.apiVersion, obj.kind)))[obj.kind];
  } catch {
    console.log(`no schema: ${what} (${obj.apiVersion})`);
    failed += 1;
    continue;
  }
  try {
    new Kind(obj).validate();
    console.log(`ok: ${what}`);
  } catch (e) {
    console.log(`invalid: ${what}: ${e.message}`);
    failed += 1;
  }
}
if (count === 0) {
  console.log("no object in the file");
  failed += 1;
}
process.exit(failed ? 1 : 0);
