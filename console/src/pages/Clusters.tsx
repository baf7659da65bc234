import { useState } from "preact/hooks";
import { Cluster, listClusters, whoAmI } from "../api";
import { useLoad } from "../load";

export function Clusters() {
  const [query, setQuery] = useState("");
  const loaded = useLoad(listClusters);
  const clusters = loaded.data;
  const error = loaded.error;
  const root = whoAmI()?.role === "root";

  const q = query.trim().toLowerCase();
  const shown = (clusters ?? []).filter(
    (c) => !q || c.name.toLowerCase().includes(q) || c.bio.toLowerCase().includes(q),
  );

  return (
    <section aria-labelledby="clusters-title">
      <header class="page-header">
        <h2 id="clusters-title">Clusters</h2>
        <input
          type="search"
          placeholder="Search clusters"
          aria-label="Search clusters"
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        {root && (
          <a class="button" href="#/clusters/new">
            Add cluster
          </a>
        )}
      </header>
      {error && (
        <p class="error" role="alert">
          Could not load the clusters: {error}
        </p>
      )}
      {!error && clusters === null && <p class="loading">Loading clusters...</p>}
      {clusters !== null && shown.length === 0 && (
        <p class="empty">{q ? `No cluster matches "${query}".` : "No cluster yet."}</p>
      )}
      {shown.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Scopes</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id} data-cluster={c.name}>
                <td>{c.id}</td>
                <td>
                  <a href={`#/clusters/${c.id}`}>{c.name}</a>{" "}
                  {c.is_default && <span class="badge">default</span>}
                </td>
                <td>{c.bio}</td>
                <td>{scopeText(c)}</td>
                <td>{new Date(c.updated_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function scopeText(c: Cluster): string {
  const s = c.scopes ?? {};
  const parts = [
    s.idc && `IDC ${s.idc}`,
    s.location && `location ${s.location}`,
    s.cidrs?.length && `CIDRs ${s.cidrs.join(", ")}`,
    s.hostnames?.length && `hosts ${s.hostnames.join(", ")}`,
  ].filter(Boolean);
  return parts.length ? parts.join("; ") : "any host";
}
