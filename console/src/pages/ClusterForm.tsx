import { useEffect, useState } from "preact/hooks";
import { ClusterConfig, ClusterInput, createCluster, getCluster, updateCluster } from "../api";
import { errorText } from "../load";
import { go } from "../router";
import { Alert, lines } from "../ui";

// The scheduler cluster settings the form edits: key, label, bounds, what it means.
const settings: { key: keyof ClusterConfig; label: string; min: number; max: number; help: string }[] = [
  { key: "candidate_parent_limit", label: "Candidate parent limit", min: 1, max: 20, help: "neighbours a peer is given" },
  { key: "filter_parent_limit", label: "Filter parent limit", min: 0, max: 1000, help: "candidates scored per decision" },
  { key: "back_to_source_count", label: "Back-to-source count", min: 0, max: 1000, help: "peers of a task that may go to the origin" },
  { key: "upload_slots", label: "Peer load limit", min: 0, max: 1000, help: "uploads a peer serves at once" },
  { key: "job_rate_limit", label: "Job rate limit", min: 0, max: 1000, help: "preheat jobs per second" },
];

interface Fields {
  name: string;
  bio: string;
  is_default: boolean;
  location: string;
  idc: string;
  cidrs: string;
  hostnames: string;
  blocked_hosts: string;
  config: Record<string, string>;
}

const empty: Fields = {
  name: "",
  bio: "",
  is_default: false,
  location: "",
  idc: "",
  cidrs: "",
  hostnames: "",
  blocked_hosts: "",
  config: {},
};

const list = (text: string) => lines(text, /[\n,]/);

function validCidr(c: string): boolean {
  const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(c);
  if (!m) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(m[1]);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) && Number(m[2]) <= 32;
  return m[1].includes(":") && Number(m[2]) <= 128;
}

// The request body, or what is wrong with the fields.
function toInput(f: Fields): ClusterInput | string {
  if (!/^[A-Za-z0-9_.-]{1,191}$/.test(f.name)) {
    return "Name: 1 to 191 characters of letters, digits, '_', '.' and '-'.";
  }
  const cidrs = list(f.cidrs);
  const bad = cidrs.find((c) => !validCidr(c));
  if (bad) return `CIDRs: "${bad}" is not a CIDR such as 10.0.0.0/8.`;
  const hostnames = list(f.hostnames);
  for (const h of hostnames) {
    try {
      new RegExp(h);
    } catch {
      return `Host names: "${h}" is not a regular expression.`;
    }
  }
  const config: ClusterConfig = { blocked_hosts: list(f.blocked_hosts) };
  for (const s of settings) {
    const text = (f.config[s.key] ?? "").trim();
    if (!text) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < s.min || n > s.max) {
      return `${s.label}: a whole number from ${s.min} to ${s.max}.`;
    }
    (config as Record<string, unknown>)[s.key] = n;
  }
  const scopes = {
    ...(f.location.trim() && { location: f.location.trim() }),
    ...(f.idc.trim() && { idc: f.idc.trim() }),
    ...(cidrs.length && { cidrs }),
    ...(hostnames.length && { hostnames }),
  };
  return { name: f.name, bio: f.bio, is_default: f.is_default, scopes, scheduler_cluster_config: config };
}

// Create a cluster (no id) or edit one.
export function ClusterForm({ id }: { id?: number }) {
  const [fields, setFields] = useState<Fields | null>(id === undefined ? empty : null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (id === undefined) return;
    let live = true;
    getCluster(id)
      .then((c) => {
        if (!live) return;
        const cfg = c.scheduler_cluster_config ?? {};
        setFields({
          name: c.name,
          bio: c.bio,
          is_default: c.is_default,
          location: c.scopes?.location ?? "",
          idc: c.scopes?.idc ?? "",
          cidrs: (c.scopes?.cidrs ?? []).join("\n"),
          hostnames: (c.scopes?.hostnames ?? []).join("\n"),
          blocked_hosts: (cfg.blocked_hosts ?? []).join("\n"),
          config: Object.fromEntries(
            settings.filter((s) => cfg[s.key] !== undefined).map((s) => [s.key, String(cfg[s.key])]),
          ),
        });
      })
      .catch((err) => live && setError(errorText(err)));
    return () => {
      live = false;
    };
  }, [id]);

  const title = id === undefined ? "New cluster" : `Edit cluster ${fields?.name ?? id}`;
  if (fields === null) {
    return (
      <section>
        <h2>{title}</h2>
        {error ? (
          <p class="error" role="alert">
            Could not load the cluster: {error}
          </p>
        ) : (
          <p class="loading">Loading the cluster...</p>
        )}
      </section>
    );
  }
  const set = (patch: Partial<Fields>) => setFields({ ...fields, ...patch });
  const text = (key: keyof Fields) => (e: Event) => set({ [key]: (e.target as HTMLInputElement).value });

  async function submit(e: Event) {
    e.preventDefault();
    const input = toInput(fields!);
    if (typeof input === "string") {
      setError(input);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const saved = id === undefined ? await createCluster(input) : await updateCluster(id, input);
      go(`#/clusters/${saved.id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="cluster-form-title">
      <h2 id="cluster-form-title">{title}</h2>
      <form class="form" onSubmit={submit} noValidate>
        <fieldset>
          <legend>Cluster</legend>
          <label>
            Name
            <input name="name" required value={fields.name} onInput={text("name")} />
          </label>
          <label>
            Description
            <textarea name="bio" rows={2} value={fields.bio} onInput={text("bio")} />
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={fields.is_default}
              onChange={(e) => set({ is_default: (e.target as HTMLInputElement).checked })}
            />
            Default cluster (for hosts no scope matches)
          </label>
        </fieldset>
        <fieldset>
          <legend>Scopes: the hosts this cluster serves</legend>
          <label>
            Location
            <input name="location" placeholder="china|hangzhou" value={fields.location} onInput={text("location")} />
          </label>
          <label>
            IDC
            <input name="idc" value={fields.idc} onInput={text("idc")} />
          </label>
          <label>
            CIDRs (one per line)
            <textarea name="cidrs" rows={3} value={fields.cidrs} onInput={text("cidrs")} />
          </label>
          <label>
            Host name regexes (one per line)
            <textarea name="hostnames" rows={2} value={fields.hostnames} onInput={text("hostnames")} />
          </label>
        </fieldset>
        <fieldset>
          <legend>Scheduling (empty: the scheduler's default)</legend>
          {settings.map((s) => (
            <label key={s.key}>
              {s.label}
              <input
                name={s.key}
                inputMode="numeric"
                placeholder={`${s.min}-${s.max}: ${s.help}`}
                value={fields.config[s.key] ?? ""}
                onInput={(e) =>
                  set({ config: { ...fields.config, [s.key]: (e.target as HTMLInputElement).value } })
                }
              />
            </label>
          ))}
          <label>
            Blocked hosts (host names or IPs never chosen as neighbours, one per line)
            <textarea name="blocked_hosts" rows={2} value={fields.blocked_hosts} onInput={text("blocked_hosts")} />
          </label>
        </fieldset>
        <Alert message={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? "Saving..." : id === undefined ? "Create cluster" : "Save"}
          </button>
          <a href={id === undefined ? "#/clusters" : `#/clusters/${id}`}>Cancel</a>
        </div>
      </form>
    </section>
  );
}
