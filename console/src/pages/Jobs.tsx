import { useState } from "preact/hooks";
import { Job, listJobs } from "../api";
import { useLoad } from "../load";

const perPage = 20;

// What a job is about, in one line: its URL(s) or task.
export function jobSubject(j: Job): string {
  const a = j.args ?? {};
  const urls = Array.isArray(a.urls) ? (a.urls as string[]) : [];
  if (typeof a.url === "string" && a.url) return a.url;
  if (urls.length) return urls.length === 1 ? urls[0] : `${urls[0]} and ${urls.length - 1} more`;
  if (typeof a.task_id === "string") return `task ${a.task_id}`;
  return j.bio || "-";
}

// Preheat and task jobs, newest first, with a state filter and a search; running ones refresh.
export function Jobs() {
  const [state, setState] = useState("");
  const [page, setPage] = useState(1);
  const [query, setQuery] = useState("");
  const loaded = useLoad(() => listJobs({ state, page, perPage }), [state, page], 3000);
  const q = query.trim().toLowerCase();
  const shown = (loaded.data?.jobs ?? []).filter(
    (j) => !q || String(j.id) === q || jobSubject(j).toLowerCase().includes(q) || j.bio.toLowerCase().includes(q),
  );
  const pages = Math.max(1, Math.ceil((loaded.data?.total ?? 0) / perPage));

  return (
    <section aria-labelledby="jobs-title">
      <header class="page-header">
        <h2 id="jobs-title">Jobs</h2>
        <input
          type="search"
          aria-label="Search jobs"
          placeholder="Search by ID or URL"
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        <label class="inline">
          State
          <select
            aria-label="Job state"
            value={state}
            onChange={(e) => {
              setState((e.target as HTMLSelectElement).value);
              setPage(1);
            }}
          >
            <option value="">all</option>
            <option value="PENDING">PENDING</option>
            <option value="SUCCESS">SUCCESS</option>
            <option value="FAILURE">FAILURE</option>
          </select>
        </label>
        <div class="actions">
          <a class="button" href="#/jobs/new">
            New preheat
          </a>
          <a href="#/tasks">Find or delete a task</a>
        </div>
      </header>
      {loaded.error && (
        <p class="error" role="alert">
          Could not load the jobs: {loaded.error}
        </p>
      )}
      {!loaded.error && loaded.data === null && <p class="loading">Loading the jobs...</p>}
      {loaded.data !== null && shown.length === 0 && (
        <p class="empty">
          {q ? `No job on this page matches "${query}".` : state ? `No ${state} job.` : "No job yet: start a preheat."}
        </p>
      )}
      {shown.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">Type</th>
              <th scope="col">What</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <td>
                  <a href={`#/jobs/${j.id}`}>{j.id}</a>
                </td>
                <td>{j.type}</td>
                <td class="wrap">{jobSubject(j)}</td>
                <td>
                  <span class={`state job-${j.state}`}>{j.state}</span>
                </td>
                <td>{new Date(j.created_at).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pages > 1 && (
        <nav class="actions" aria-label="Pages">
          <button type="button" class="secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Previous
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button type="button" class="secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}
