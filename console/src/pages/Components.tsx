import { useEffect, useState } from "preact/hooks";
import { ApiError, Component, listComponents } from "../api";

type StateFilter = "all" | "active" | "inactive";

// Schedulers and seed peers: where they run, their cluster, state and last keepalive.
export function Components() {
  const [schedulers, setSchedulers] = useState<Component[] | null>(null);
  const [seeds, setSeeds] = useState<Component[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState<StateFilter>("all");

  useEffect(() => {
    let live = true;
    Promise.all([listComponents("schedulers"), listComponents("seed-peers")])
      .then(([s, p]) => {
        if (live) {
          setSchedulers(s);
          setSeeds(p);
        }
      })
      .catch((err) => live && setError(err instanceof ApiError ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, []);

  return (
    <section aria-labelledby="components-title">
      <header class="page-header">
        <h2 id="components-title">Schedulers and seed peers</h2>
        <label class="inline">
          State
          <select
            aria-label="State"
            value={filter}
            onChange={(e) => setFilter((e.target as HTMLSelectElement).value as StateFilter)}
          >
            <option value="all">all</option>
            <option value="active">active</option>
            <option value="inactive">inactive</option>
          </select>
        </label>
      </header>
      {error && (
        <p class="error" role="alert">
          Could not load the components: {error}
        </p>
      )}
      {!error && (schedulers === null || seeds === null) && <p class="loading">Loading...</p>}
      {schedulers !== null && (
        <ComponentTable title="Schedulers" kind="scheduler" rows={schedulers} filter={filter} />
      )}
      {seeds !== null && (
        <ComponentTable title="Seed peers" kind="seed peer" rows={seeds} filter={filter} />
      )}
    </section>
  );
}

function ComponentTable(props: {
  title: string;
  kind: string;
  rows: Component[];
  filter: StateFilter;
}) {
  const shown = props.rows.filter((c) => props.filter === "all" || c.state === props.filter);
  return (
    <>
      <h3>{props.title}</h3>
      {shown.length === 0 ? (
        <p class="empty">
          {props.rows.length === 0
            ? `No ${props.kind} has registered with the manager yet.`
            : `No ${props.filter} ${props.kind}.`}
        </p>
      ) : (
        <table class="list" data-kind={props.kind}>
          <thead>
            <tr>
              <th scope="col">Host name</th>
              <th scope="col">Address</th>
              <th scope="col">Cluster</th>
              <th scope="col">IDC / location</th>
              <th scope="col">State</th>
              <th scope="col">Last keepalive</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id} data-host={c.host_name}>
                <td>{c.host_name}</td>
                <td>
                  {c.ip}:{c.port}
                  {c.download_port ? ` (pieces :${c.download_port})` : ""}
                </td>
                <td>{c.scheduler_cluster_id ?? c.seed_peer_cluster_id}</td>
                <td>{[c.idc, c.location].filter(Boolean).join(" / ") || "-"}</td>
                <td>
                  <span class={`state state-${c.state}`}>{c.state}</span>
                </td>
                <td>{new Date(c.updated_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
