import { useState } from "preact/hooks";
import { Component, listPeers } from "../api";
import { useLoad } from "../load";

interface VersionGroup {
  key: string; // version (commit)
  total: number;
  active: number;
}

export function versionGroups(peers: Component[]): VersionGroup[] {
  const groups = new Map<string, VersionGroup>();
  for (const p of peers) {
    const key = `${p.version || "unknown"}${p.git_commit ? ` (${p.git_commit})` : ""}`;
    const g = groups.get(key) ?? { key, total: 0, active: 0 };
    g.total += 1;
    g.active += p.state === "active" ? 1 : 0;
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.total - a.total || a.key.localeCompare(b.key));
}

const csvCell = (v: string | number) => {
  const s = String(v);
  // Quoted, and a leading formula character neutralised (a spreadsheet would run it).
  return `"${(/^[=+\-@]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
};

export function peersCsv(peers: Component[]): string {
  const head = ["host_name", "ip", "port", "cluster", "idc", "location", "version", "git_commit", "state", "last_seen"];
  const rows = peers.map((p) =>
    [p.host_name, p.ip, p.port, p.scheduler_cluster_id ?? "", p.idc, p.location, p.version, p.git_commit, p.state, p.updated_at]
      .map(csvCell)
      .join(","),
  );
  return [head.join(","), ...rows].join("\r\n") + "\r\n";
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

// The daemons known to the manager, by version, with a CSV export.
export function Peers() {
  const peers = useLoad(listPeers, [], 10000);
  const [state, setState] = useState("all");
  const shown = (peers.data ?? []).filter((p) => state === "all" || p.state === state);
  const groups = versionGroups(shown);
  const widest = Math.max(1, ...groups.map((g) => g.total));

  return (
    <section aria-labelledby="peers-title">
      <header class="page-header">
        <h2 id="peers-title">Peers</h2>
        <label class="inline">
          State
          <select aria-label="Peer state" value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="all">all</option>
            <option value="active">active</option>
            <option value="inactive">inactive</option>
          </select>
        </label>
        <button
          type="button"
          class="secondary"
          disabled={shown.length === 0}
          onClick={() => download("peers.csv", peersCsv(shown))}
        >
          Export CSV
        </button>
      </header>
      {peers.error && (
        <p class="error" role="alert">
          Could not load the peers: {peers.error}
        </p>
      )}
      {!peers.error && peers.data === null && <p class="loading">Loading the peers...</p>}
      {peers.data !== null && shown.length === 0 && (
        <p class="empty">
          {peers.data.length === 0
            ? "No daemon has asked the manager for schedulers yet."
            : `No ${state} peer.`}
        </p>
      )}
      {groups.length > 0 && (
        <figure class="chart" aria-labelledby="versions-title">
          <figcaption id="versions-title">
            {shown.length} peer{shown.length > 1 ? "s" : ""} by version (active of all)
          </figcaption>
          <table class="bars" data-chart="versions">
            <tbody>
              {groups.map((g) => (
                <tr key={g.key} data-version={g.key}>
                  <th scope="row">{g.key}</th>
                  <td>
                    <svg width="100%" height="18" role="img" aria-label={`${g.active} active of ${g.total}`}>
                      <rect x="0" y="2" height="14" width={`${(g.total / widest) * 100}%`} fill="#c9d6ef" />
                      <rect x="0" y="2" height="14" width={`${(g.active / widest) * 100}%`} fill="#2f6fde" />
                    </svg>
                  </td>
                  <td class="count">
                    {g.active} / {g.total}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </figure>
      )}
      {shown.length > 0 && (
        <table class="list" data-kind="peer">
          <thead>
            <tr>
              <th scope="col">Host name</th>
              <th scope="col">Address</th>
              <th scope="col">Cluster</th>
              <th scope="col">IDC / location</th>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.id} data-host={p.host_name}>
                <td>{p.host_name}</td>
                <td>
                  {p.ip}:{p.port}
                </td>
                <td>{p.scheduler_cluster_id ? <a href={`#/clusters/${p.scheduler_cluster_id}`}>{p.scheduler_cluster_id}</a> : "-"}</td>
                <td>{[p.idc, p.location].filter(Boolean).join(" / ") || "-"}</td>
                <td>
                  {p.version || "unknown"} <span class="muted">{p.git_commit}</span>
                </td>
                <td>
                  <span class={`state state-${p.state}`}>{p.state}</span>
                </td>
                <td>{new Date(p.updated_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
