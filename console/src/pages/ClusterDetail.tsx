import { useState } from "preact/hooks";
import { Cluster, ClusterConfig, deleteCluster, getCluster, listComponents, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { go } from "../router";
import { BlocklistEditor } from "./Blocklist";
import { ComponentTable } from "./Components";

const settingLabels: [keyof ClusterConfig, string][] = [
  ["candidate_parent_limit", "Candidate parent limit"],
  ["filter_parent_limit", "Filter parent limit"],
  ["back_to_source_count", "Back-to-source count"],
  ["upload_slots", "Peer load limit"],
  ["job_rate_limit", "Job rate limit"],
];

// One cluster: its attributes, scopes and scheduling settings, and the schedulers and seed peers in it.
export function ClusterDetail({ id }: { id: number }) {
  const cluster = useLoad(() => getCluster(id), [id]);
  const parts = useLoad(
    () => Promise.all([listComponents("schedulers"), listComponents("seed-peers")]),
    [id],
    5000,
  );
  const root = whoAmI()?.role === "root";

  if (cluster.error) {
    return (
      <section>
        <h2>Cluster {id}</h2>
        <p class="error" role="alert">
          Could not load the cluster: {cluster.error}
        </p>
        <a href="#/clusters">Back to the clusters</a>
      </section>
    );
  }
  const c = cluster.data;
  if (c === null) {
    return <p class="loading">Loading the cluster...</p>;
  }
  const schedulers = parts.data?.[0].filter((s) => s.scheduler_cluster_id === c.id) ?? null;
  const seeds = parts.data?.[1].filter((s) => s.seed_peer_cluster_id === c.id) ?? null;
  return (
    <section aria-labelledby="cluster-title">
      <header class="page-header">
        <h2 id="cluster-title">
          {c.name} {c.is_default && <span class="badge">default</span>}
        </h2>
        {root && (
          <div class="actions">
            <a class="button" href={`#/clusters/${c.id}/edit`}>
              Edit
            </a>
            {!c.is_default && <DeleteCluster cluster={c} />}
          </div>
        )}
      </header>
      {c.bio && <p>{c.bio}</p>}
      <dl class="facts">
        <dt>ID</dt>
        <dd>{c.id}</dd>
        <dt>Location</dt>
        <dd>{c.scopes?.location || "any"}</dd>
        <dt>IDC</dt>
        <dd>{c.scopes?.idc || "any"}</dd>
        <dt>CIDRs</dt>
        <dd>{c.scopes?.cidrs?.join(", ") || "any"}</dd>
        <dt>Host names</dt>
        <dd>{c.scopes?.hostnames?.join(", ") || "any"}</dd>
        {settingLabels.map(([key, label]) => (
          <>
            <dt key={`${key}-t`}>{label}</dt>
            <dd key={`${key}-d`} data-setting={key}>
              {c.scheduler_cluster_config?.[key] ?? "default"}
            </dd>
          </>
        ))}
        <dt>Blocked hosts</dt>
        <dd>{c.scheduler_cluster_config?.blocked_hosts?.join(", ") || "none"}</dd>
        <dt>Config version</dt>
        <dd data-setting="config_version">{c.config_version}</dd>
      </dl>
      <BlocklistEditor key={c.id} cluster={c} root={root} onSaved={cluster.reload} />
      {parts.error && (
        <p class="error" role="alert">
          Could not load the schedulers and seed peers: {parts.error}
        </p>
      )}
      {!parts.error && (schedulers === null || seeds === null) && <p class="loading">Loading...</p>}
      {schedulers !== null && (
        <ComponentTable title="Schedulers" kind="scheduler" rows={schedulers} filter="all" onChange={parts.reload} />
      )}
      {seeds !== null && (
        <ComponentTable title="Seed peers" kind="seed peer" rows={seeds} filter="all" onChange={parts.reload} />
      )}
    </section>
  );
}

function DeleteCluster({ cluster }: { cluster: Cluster }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!asking) {
    return (
      <button type="button" class="danger" onClick={() => setAsking(true)}>
        Delete
      </button>
    );
  }
  return (
    <span role="group" aria-label="Confirm deletion">
      Delete {cluster.name}?{" "}
      <button
        type="button"
        class="danger"
        onClick={() =>
          deleteCluster(cluster.id)
            .then(() => go("#/clusters"))
            .catch((err) => setError(errorText(err)))
        }
      >
        Yes, delete
      </button>{" "}
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Keep it
      </button>
      {error && (
        <span class="error" role="alert">
          {" "}
          {error}
        </span>
      )}
    </span>
  );
}
