import { useState } from "preact/hooks";
import { JobResultGroup, LayerHolder, createJob } from "../api";
import { errorText, useJob } from "../load";
import { Alert } from "../ui";

const short = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

// Which hosts hold each layer of an image (a get_image_distribution job: the manager resolves
// the manifest and asks every seed peer and peer).
export function ImageSearch() {
  const [url, setUrl] = useState("");
  const [platform, setPlatform] = useState("linux/amd64");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [jobId, setJobId] = useState<number | null>(null);
  const search = useJob(jobId);

  async function start(e: Event) {
    e.preventDefault();
    setError(null);
    if (!/^https?:\/\/.+\/v2\/.+\/manifests\/.+/.test(url.trim())) {
      setError("Give the image's manifest URL: https://registry/v2/<name>/manifests/<tag or digest>.");
      return;
    }
    const args: Record<string, unknown> = { url: url.trim(), platform };
    if (username) args.username = username;
    if (password) args.password = password;
    try {
      setJobId((await createJob({ type: "get_image_distribution", args })).id);
    } catch (err) {
      setError(errorText(err));
    }
  }

  const state = search.job?.result?.job_states?.[0];
  return (
    <section aria-labelledby="image-search-title">
      <h3 id="image-search-title">Which hosts hold an image</h3>
      <form class="form" onSubmit={start}>
        <fieldset>
          <legend>The image</legend>
          <label>
            Manifest URL
            <input
              name="manifest_url"
              placeholder="https://registry.example/v2/library/nginx/manifests/1.27"
              value={url}
              onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Platform
            <select name="platform" value={platform} onChange={(e) => setPlatform((e.target as HTMLSelectElement).value)}>
              <option value="linux/amd64">linux/amd64</option>
              <option value="linux/arm64">linux/arm64</option>
            </select>
          </label>
          <label>
            Registry user name
            <input name="registry_username" autocomplete="off" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Registry password
            <input
              name="registry_password"
              type="password"
              autocomplete="off"
              value={password}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            />
          </label>
        </fieldset>
        <Alert message={error} />
        <div class="actions">
          <button type="submit">Find the image</button>
        </div>
      </form>
      <Alert message={search.error} />
      {search.job?.state === "PENDING" && <p class="loading">Resolving the image and asking every host...</p>}
      {search.job && search.job.state !== "PENDING" && (
        <div data-image-search-done={search.job.state}>
          <Alert message={state?.error} />
          {state?.results.map((r, i) => <ImageDistribution key={i} result={r} />)}
        </div>
      )}
    </section>
  );
}

// One row per layer: the hosts that hold it, whole or in part.
export function ImageDistribution({ result }: { result: JobResultGroup }) {
  const image = result.image;
  if (!image) return null;
  const holders = (result.peers ?? []) as unknown as LayerHolder[];
  return (
    <table class="list" data-result="image-distribution">
      <caption>
        {image.layers.length} blob{image.layers.length === 1 ? "" : "s"} of {image.manifest_url} ({image.platform});{" "}
        {holders.length === 0
          ? "no host holds any"
          : holders.length === 1
            ? "1 host holds some"
            : `${holders.length} hosts hold some`}
      </caption>
      <thead>
        <tr>
          <th scope="col">Blob</th>
          <th scope="col">Kind</th>
          <th scope="col">Held by</th>
        </tr>
      </thead>
      <tbody>
        {image.layers.map((l) => {
          const by = holders.flatMap((h) =>
            h.layers.filter((x) => x.digest === l.digest).map((x) => ({ host: h, layer: x })),
          );
          return (
            <tr key={l.digest} data-layer={l.digest}>
              <td title={l.digest}>
                <code>{short(l.digest)}</code>
              </td>
              <td>{/config/.test(l.media_type) ? "config" : "layer"}</td>
              <td data-holders={by.map((b) => b.host.hostname).join(" ")}>
                {by.length === 0
                  ? "nobody"
                  : by.map((b, i) => (
                      <span key={b.host.hostname}>
                        {i > 0 && ", "}
                        {b.host.hostname}
                        {b.host.host_type === "super" ? " (seed)" : ""}
                        {b.layer.done ? "" : ` (partial: ${b.layer.finished_pieces} pieces)`}
                      </span>
                    ))}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
