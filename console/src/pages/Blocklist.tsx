import { useState } from "preact/hooks";
import { BlockRules, Blocklist, Cluster, updateBlocklist } from "../api";
import { errorText } from "../load";
import { Alert, lines } from "../ui";

type Kind = "client" | "seed_client";
type Field = keyof BlockRules;

const kinds: { kind: Kind; title: string }[] = [
  { kind: "client", title: "Peers" },
  { kind: "seed_client", title: "Seed peers" },
];
const fields: { field: Field; label: string; help: string }[] = [
  { field: "applications", label: "Applications", help: "exact names, one per line" },
  { field: "urls", label: "URL regexes", help: "RE2, matched anywhere in the URL, one per line" },
  { field: "tags", label: "Tags", help: "exact tags, one per line" },
];

type Texts = Record<Kind, Record<Field, string>>;

function textsOf(b: Blocklist | undefined): Texts {
  const of = (k: Kind) => {
    const r = b?.[k]?.task ?? {};
    return {
      applications: (r.applications ?? []).join("\n"),
      urls: (r.urls ?? []).join("\n"),
      tags: (r.tags ?? []).join("\n"),
    };
  };
  return { client: of("client"), seed_client: of("seed_client") };
}

function blocklistOf(t: Texts): Blocklist {
  const of = (k: Kind) => ({
    task: { applications: lines(t[k].applications), urls: lines(t[k].urls), tags: lines(t[k].tags) },
  });
  return { client: of("client"), seed_client: of("seed_client") };
}

// The cluster's blocklist: tasks its peers (or seed peers) refuse to download and serve, by
// application, URL regex or tag. Root edits it; the schedulers apply it within a keepalive.
export function BlocklistEditor({ cluster, root, onSaved }: { cluster: Cluster; root: boolean; onSaved: () => void }) {
  const [texts, setTexts] = useState<Texts>(() => textsOf(cluster.scheduler_cluster_config?.blocklist));
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);

  const save = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    updateBlocklist(cluster.id, blocklistOf(texts))
      .then((c) => {
        setSaved(c.config_version);
        setTexts(textsOf(c.scheduler_cluster_config?.blocklist));
        onSaved();
      })
      .catch((err) => setError(errorText(err)))
      .finally(() => setBusy(false));
  };

  return (
    <section aria-labelledby="blocklist-title">
      <h3 id="blocklist-title">Blocklist</h3>
      <p class="hint">
        Tasks this cluster refuses: a download asks its scheduler first and is refused (the proxy answers 403),
        from peers and from the origin alike.
      </p>
      <form class="form blocklist" onSubmit={save}>
        {kinds.map(({ kind, title }) => (
          <fieldset key={kind} disabled={!root || busy}>
            <legend>{title}</legend>
            {fields.map(({ field, label, help }) => (
              <label key={field}>
                {label} <span class="hint">({help})</span>
                <textarea
                  name={`${kind}.${field}`}
                  rows={2}
                  value={texts[kind][field]}
                  onInput={(e) => {
                    const v = (e.target as HTMLTextAreaElement).value;
                    setTexts((t) => ({ ...t, [kind]: { ...t[kind], [field]: v } }));
                  }}
                />
              </label>
            ))}
          </fieldset>
        ))}
        {root && (
          <button type="submit" disabled={busy}>
            {busy ? "Saving..." : "Save blocklist"}
          </button>
        )}
        {saved !== null && (
          <p class="notice" role="status" data-blocklist-version={saved}>
            Saved: config version {saved}, applied by the schedulers at their next keepalive.
          </p>
        )}
        <Alert message={error} />
      </form>
    </section>
  );
}
