import { useState } from "preact/hooks";
import { createJob, listClusters } from "../api";
import { errorText, useLoad } from "../load";
import { go } from "../router";
import { Alert, lines } from "../ui";

type Scope = "single_seed_peer" | "all_seed_peers" | "all_peers";

interface Fields {
  kind: "file" | "image";
  urls: string;
  url: string;
  platform: string;
  username: string;
  password: string;
  scope: Scope;
  ips: string;
  count: string;
  percentage: string;
  tag: string;
  application: string;
  filtered: string;
  pieceMiB: string;
  headers: string;
  clusters: number[];
}


const httpUrl = (u: string) => {
  try {
    const p = new URL(u);
    return p.protocol === "http:" || p.protocol === "https:";
  } catch {
    return false;
  }
};

// The job's args, or what is wrong with the fields.
function toArgs(f: Fields): Record<string, unknown> | string {
  const args: Record<string, unknown> = { type: f.kind, scope: f.scope };
  if (f.kind === "file") {
    const urls = lines(f.urls);
    if (urls.length === 0) return "URLs: at least one.";
    const bad = urls.find((u) => !httpUrl(u));
    if (bad) return `URLs: "${bad}" is not an http(s) URL.`;
    args.urls = urls;
  } else {
    if (!httpUrl(f.url.trim())) return "Manifest URL: an http(s) URL such as https://registry/v2/library/nginx/manifests/1.27.";
    args.url = f.url.trim();
    args.platform = f.platform;
    if (f.username) args.username = f.username;
    if (f.password) args.password = f.password;
  }
  if (f.scope === "all_peers") {
    const ips = lines(f.ips);
    if (ips.length) args.ips = ips;
    for (const [key, text, max] of [
      ["count", f.count, 200],
      ["percentage", f.percentage, 100],
    ] as const) {
      if (!text.trim()) continue;
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1 || n > max) return `${key}: a whole number from 1 to ${max}.`;
      args[key] = n;
    }
  }
  if (f.pieceMiB.trim()) {
    const n = Number(f.pieceMiB);
    if (!Number.isInteger(n) || n < 4 || n > 1024) return "Piece length: 4 to 1024 MiB.";
    args.piece_length = n * 1024 * 1024;
  }
  if (f.tag) args.tag = f.tag;
  if (f.application) args.application = f.application;
  if (f.filtered.trim()) args.filtered_query_params = f.filtered.trim();
  const headers: Record<string, string> = {};
  for (const l of lines(f.headers)) {
    const colon = l.indexOf(":");
    if (colon <= 0) return `Headers: "${l}" is not "Name: value".`;
    headers[l.slice(0, colon).trim()] = l.slice(colon + 1).trim();
  }
  args.headers = headers;
  return args;
}

// A new preheat: files by URL, or an image by its manifest; which hosts; how.
export function JobForm() {
  const [f, setF] = useState<Fields>({
    kind: "file",
    urls: "",
    url: "",
    platform: "linux/amd64",
    username: "",
    password: "",
    scope: "single_seed_peer",
    ips: "",
    count: "",
    percentage: "",
    tag: "",
    application: "",
    filtered: "",
    pieceMiB: "",
    headers: "",
    clusters: [],
  });
  const clusters = useLoad(listClusters);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Fields>) => setF({ ...f, ...patch });
  const text = (key: keyof Fields) => (e: Event) => set({ [key]: (e.target as HTMLInputElement).value });

  async function submit(e: Event) {
    e.preventDefault();
    const args = toArgs(f);
    if (typeof args === "string") {
      setError(args);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const job = await createJob({
        type: "preheat",
        args,
        ...(f.clusters.length && { scheduler_cluster_ids: f.clusters }),
      });
      go(`#/jobs/${job.id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="job-form-title">
      <h2 id="job-form-title">New preheat</h2>
      <form class="form" onSubmit={submit} noValidate>
        <fieldset>
          <legend>What</legend>
          <div class="actions" role="radiogroup" aria-label="Preheat type">
            <label class="check">
              <input type="radio" name="kind" checked={f.kind === "file"} onChange={() => set({ kind: "file" })} />
              Files
            </label>
            <label class="check">
              <input type="radio" name="kind" checked={f.kind === "image"} onChange={() => set({ kind: "image" })} />
              Image
            </label>
          </div>
          {f.kind === "file" ? (
            <label>
              URLs (one per line)
              <textarea name="urls" rows={3} value={f.urls} onInput={text("urls")} />
            </label>
          ) : (
            <>
              <label>
                Manifest URL
                <input name="url" value={f.url} onInput={text("url")} placeholder="https://registry.example.com/v2/library/nginx/manifests/1.27" />
              </label>
              <label>
                Platform
                <select name="platform" value={f.platform} onChange={text("platform")}>
                  <option value="linux/amd64">linux/amd64</option>
                  <option value="linux/arm64">linux/arm64</option>
                </select>
              </label>
              <label>
                Registry user name
                <input name="username" autoComplete="off" value={f.username} onInput={text("username")} />
              </label>
              <label>
                Registry password
                <input name="password" type="password" autoComplete="new-password" value={f.password} onInput={text("password")} />
              </label>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>Where</legend>
          <label>
            Scope
            <select name="scope" value={f.scope} onChange={text("scope")}>
              <option value="single_seed_peer">one seed peer</option>
              <option value="all_seed_peers">all seed peers</option>
              <option value="all_peers">all peers</option>
            </select>
          </label>
          {f.scope === "all_peers" && (
            <>
              <label>
                Only these IPs (one per line; first choice)
                <textarea name="ips" rows={2} value={f.ips} onInput={text("ips")} />
              </label>
              <label>
                Count of peers (1-200; second choice)
                <input name="count" inputMode="numeric" value={f.count} onInput={text("count")} />
              </label>
              <label>
                Percentage of peers (1-100)
                <input name="percentage" inputMode="numeric" value={f.percentage} onInput={text("percentage")} />
              </label>
            </>
          )}
          <div role="group" aria-label="Clusters">
            <span>Clusters (none ticked: every cluster)</span>
            {clusters.error && <span class="error"> could not load the clusters: {clusters.error}</span>}
            {(clusters.data ?? []).map((c) => (
              <label class="check" key={c.id}>
                <input
                  type="checkbox"
                  checked={f.clusters.includes(c.id)}
                  onChange={(e) =>
                    set({
                      clusters: (e.target as HTMLInputElement).checked
                        ? [...f.clusters, c.id]
                        : f.clusters.filter((x) => x !== c.id),
                    })
                  }
                />
                {c.name}
              </label>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>How (optional)</legend>
          <label>
            Tag
            <input name="tag" value={f.tag} onInput={text("tag")} />
          </label>
          <label>
            Application
            <input name="application" value={f.application} onInput={text("application")} />
          </label>
          <label>
            Filtered query parameters (&amp;-separated names left out of the task ID)
            <input name="filtered" value={f.filtered} onInput={text("filtered")} placeholder="X-Amz-Signature&Expires" />
          </label>
          <label>
            Piece length in MiB (4-1024)
            <input name="piece" inputMode="numeric" value={f.pieceMiB} onInput={text("pieceMiB")} />
          </label>
          <label>
            Headers for the origin ("Name: value", one per line)
            <textarea name="headers" rows={2} value={f.headers} onInput={text("headers")} />
          </label>
        </fieldset>
        <Alert message={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? "Starting..." : "Start preheat"}
          </button>
          <a href="#/jobs">Cancel</a>
        </div>
      </form>
    </section>
  );
}
