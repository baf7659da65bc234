import { useState } from "preact/hooks";
import { Component, deleteComponent, listComponents, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { Alert } from "../ui";

type StateFilter = "all" | "active" | "inactive";

// Schedulers and seed peers: where they run, their cluster, state and last keepalive.
export function Components() {
  const [filter, setFilter] = useState<StateFilter>("all");
  // Refreshed every few seconds: a component that stops its keepalive turns inactive here.
  const all = useLoad(() => Promise.all([listComponents("schedulers"), listComponents("seed-peers")]), [], 3000);

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
      {all.error && (
        <p class="error" role="alert">
          Could not load the components: {all.error}
        </p>
      )}
      {!all.error && all.data === null && <p class="loading">Loading...</p>}
      {all.data !== null && (
        <>
          <ComponentTable title="Schedulers" kind="scheduler" rows={all.data[0]} filter={filter} onChange={all.reload} />
          <ComponentTable title="Seed peers" kind="seed peer" rows={all.data[1]} filter={filter} onChange={all.reload} />
        </>
      )}
    </section>
  );
}

// A table of schedulers or seed peers; root may delete the inactive ones (onChange reloads).
export function ComponentTable(props: {
  title: string;
  kind: "scheduler" | "seed peer";
  rows: Component[];
  filter: StateFilter;
  onChange: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const root = whoAmI()?.role === "root";
  const shown = props.rows.filter((c) => props.filter === "all" || c.state === props.filter);
  const remove = (c: Component) =>
    deleteComponent(props.kind === "scheduler" ? "schedulers" : "seed-peers", c.id)
      .then(() => {
        setError(null);
        props.onChange();
      })
      .catch((err) => setError(`Could not delete ${c.host_name}: ${errorText(err)}`));
  return (
    <>
      <h3>{props.title}</h3>
      <Alert message={error} />
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
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Last keepalive</th>
              {root && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => {
              const cluster = c.scheduler_cluster_id ?? c.seed_peer_cluster_id;
              return (
                <tr key={c.id} data-host={c.host_name}>
                  <td>{c.host_name}</td>
                  <td>
                    {c.ip}:{c.port}
                    {c.download_port ? ` (pieces :${c.download_port})` : ""}
                  </td>
                  <td>
                    <a href={`#/clusters/${cluster}`}>{cluster}</a>
                  </td>
                  <td>{[c.idc, c.location].filter(Boolean).join(" / ") || "-"}</td>
                  <td>
                    {c.version || "unknown"} <span class="muted">{c.git_commit}</span>
                  </td>
                  <td>
                    <span class={`state state-${c.state}`}>{c.state}</span>
                  </td>
                  <td>{new Date(c.updated_at).toLocaleString()}</td>
                  {root && (
                    <td>
                      {c.state === "inactive" && (
                        <button
                          type="button"
                          class="secondary"
                          aria-label={`Delete ${props.kind} ${c.host_name}`}
                          onClick={() => remove(c)}
                        >
                          Delete
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
