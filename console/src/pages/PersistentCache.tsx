import { useState } from "preact/hooks";
import { PersistentCacheTask, deletePersistentCacheTask, listPersistentCacheTasks, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { Alert } from "../ui";
import { bytesText } from "./Swarm";

// "in 3 h 20 min", "in 45 s", "expired".
export function timeLeft(ms: number): string {
  if (ms <= 0) return "expired";
  const s = Math.round(ms / 1000);
  if (s < 120) return `in ${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `in ${min} min`;
  const h = Math.floor(min / 60);
  return h < 48 ? `in ${h} h ${min % 60} min` : `in ${Math.floor(h / 24)} days`;
}

const matches = (t: PersistentCacheTask, q: string) =>
  !q || [t.task_id, t.tag, t.application, ...t.holders.map((h) => h.hostname)].some((s) => s.toLowerCase().includes(q));

// The persistent cache tasks the schedulers keep (imported with `dfcache import`): who holds each,
// whether it has its replicas, when it expires; root deletes one from every host.
export function PersistentCache() {
  const tasks = useLoad(listPersistentCacheTasks, [], 3000);
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const shown = tasks.data?.filter((t) => matches(t, q)) ?? [];
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const remove = (t: PersistentCacheTask) =>
    deletePersistentCacheTask(t.task_id)
      .then((r) => {
        setError(null);
        setDone(`Deleted ${t.task_id.slice(0, 16)} from ${r.hosts} host${r.hosts === 1 ? "" : "s"}.`);
        tasks.reload();
      })
      .catch((err) => {
        setDone(null);
        setError(`Could not delete ${t.task_id.slice(0, 16)}: ${errorText(err)}`);
      });
  return (
    <section aria-labelledby="cache-title">
      <header class="page-header">
        <h2 id="cache-title">Persistent cache</h2>
        <label class="inline">
          Search
          <input
            type="search"
            aria-label="Search tasks"
            placeholder="ID, tag, application, host"
            value={query}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
        </label>
      </header>
      <p>
        Files imported with <code>dfcache import</code>, kept by their holders until they expire and fetched with{" "}
        <code>dfcache export</code> from any host. They have no origin: a deleted task is gone.
      </p>
      <Alert message={error} />
      {done && (
        <p class="notice" role="status" data-cache-deleted>
          {done}
        </p>
      )}
      {tasks.error && (
        <p class="error" role="alert">
          Could not ask the schedulers: {tasks.error}
        </p>
      )}
      {!tasks.error && tasks.data === null && <p class="loading">Asking the schedulers...</p>}
      {tasks.data !== null && tasks.data.length === 0 && (
        <p class="empty">No persistent cache task in the cluster (or no scheduler is active).</p>
      )}
      {tasks.data !== null && tasks.data.length > 0 && shown.length === 0 && (
        <p class="empty">No task matches "{query}".</p>
      )}
      {shown.length > 0 && <CacheTable tasks={shown} remove={remove} />}
    </section>
  );
}

// The tasks; root deletes one after a confirmation (`remove` resolves once it is done or failed).
function CacheTable({ tasks, remove }: { tasks: PersistentCacheTask[]; remove: (t: PersistentCacheTask) => Promise<void> }) {
  const root = whoAmI()?.role === "root";
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false); // a delete in flight: one click, one DELETE
  const deleteForGood = (t: PersistentCacheTask) => {
    setBusy(true);
    remove(t).then(() => {
      setBusy(false);
      setConfirming(null);
    });
  };
  return (
    <>
      <table class="list" data-table="persistent-cache">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Size</th>
            <th scope="col">Replicas</th>
            <th scope="col">Holders</th>
            <th scope="col">Expires</th>
            <th scope="col">Scheduler</th>
            {root && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.task_id} data-cache-task={t.task_id} data-state={t.state}>
              <td class="wrap">
                <code title={t.task_id}>{t.task_id.slice(0, 16)}</code>
                {(t.tag || t.application) && (
                  <div class="muted">{[t.application, t.tag].filter(Boolean).join(" · ")}</div>
                )}
              </td>
              <td title={`${t.total_pieces} pieces of ${bytesText(t.piece_length)}`}>{bytesText(t.content_length)}</td>
              <td data-replicas={`${t.holders.length}/${t.replicas}`}>
                {t.holders.length} of {t.replicas}{" "}
                <span class={`state state-${t.state === "ready" ? "active" : "inactive"}`}>{t.state}</span>
              </td>
              <td class="wrap" data-holders={t.holders.map((h) => h.hostname).join(" ")}>
                {t.holders.map((h, i) => (
                  <span key={h.host_id} title={`${h.ip}, seen ${Math.round(h.last_seen_ms_ago / 1000)} s ago`}>
                    {i > 0 && ", "}
                    {h.hostname}
                    {h.seed && " "}
                    {h.seed && <span class="badge">seed</span>}
                  </span>
                ))}
                {t.holders.length === 0 && "-"}
              </td>
              <td title={new Date(t.expires_at_ms).toLocaleString()}>{timeLeft(t.expires_at_ms - Date.now())}</td>
              <td>{t.scheduler}</td>
              {root && (
                <td class="actions">
                  {confirming === t.task_id ? (
                    <>
                      <button type="button" class="danger" aria-label={`Delete ${t.task_id.slice(0, 16)} for good`} disabled={busy} onClick={() => deleteForGood(t)}>
                        Delete for good
                      </button>
                      <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Delete ${t.task_id.slice(0, 16)}`}
                      onClick={() => setConfirming(t.task_id)}
                    >
                      Delete
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
