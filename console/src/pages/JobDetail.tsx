import { useState } from "preact/hooks";
import { Job, deleteJob, getJob, whoAmI } from "../api";
import { errorText, useLoad } from "../load";
import { go } from "../router";
import { jobSubject } from "./Jobs";
import { Alert } from "../ui";
import { ImageDistribution } from "./ImageSearch";

// One job: what it was asked, its state (refreshed every 2 s until it ends), and per host what
// happened.
export function JobDetail({ id }: { id: number }) {
  const [finished, setFinished] = useState(false);
  const job = useLoad(
    () =>
      getJob(id).then((j) => {
        setFinished(j.state !== "PENDING");
        return j;
      }),
    [id],
    finished ? 0 : 2000,
  );
  const [error, setError] = useState<string | null>(null);
  const root = whoAmI()?.role === "root";

  if (job.error && job.data === null) {
    return (
      <section>
        <h2>Job {id}</h2>
        <p class="error" role="alert">
          Could not load the job: {job.error}
        </p>
        <a href="#/jobs">Back to the jobs</a>
      </section>
    );
  }
  const j = job.data;
  if (j === null) {
    return <p class="loading">Loading the job...</p>;
  }
  return (
    <section aria-labelledby="job-title">
      <header class="page-header">
        <h2 id="job-title">
          Job {j.id}: {j.type}{" "}
          <span class={`state job-${j.state}`} data-job-state={j.state}>
            {j.state}
          </span>
        </h2>
        {root && (
          <button
            type="button"
            class="secondary"
            onClick={() =>
              deleteJob(j.id)
                .then(() => go("#/jobs"))
                .catch((err) => setError(errorText(err)))
            }
          >
            Delete job record
          </button>
        )}
      </header>
      <Alert message={error} />
      {j.state === "PENDING" && <p class="loading">Running: this page follows it.</p>}
      <dl class="facts">
        <dt>What</dt>
        <dd class="wrap">{jobSubject(j)}</dd>
        {Object.entries(j.args ?? {})
          .filter(([k, v]) => !["url", "urls"].includes(k) && v !== "" && v !== null && !(typeof v === "object" && Object.keys(v as object).length === 0))
          .map(([k, v]) => (
            <>
              <dt key={`${k}-t`}>{k}</dt>
              <dd key={`${k}-d`} class="wrap">
                {typeof v === "string" ? v : JSON.stringify(v)}
              </dd>
            </>
          ))}
        <dt>Created</dt>
        <dd>{new Date(j.created_at).toLocaleString()}</dd>
        <dt>Updated</dt>
        <dd>{new Date(j.updated_at).toLocaleString()}</dd>
      </dl>
      <JobResults job={j} />
    </section>
  );
}

export function JobResults({ job }: { job: Job }) {
  const states = job.result?.job_states ?? [];
  if (job.state === "PENDING") return null;
  if (states.length === 0) {
    return <p class="empty">No host result recorded.</p>;
  }
  return (
    <>
      {states.map((s, i) => (
        <div key={i}>
          <Alert message={s.error} />
          {s.results.map((r) =>
            r.image ? (
              <ImageDistribution key="image" result={r} />
            ) : (
              <div key={r.scheduler_cluster_id}>
                <h3>Cluster {r.scheduler_cluster_id}</h3>
                {r.peers !== undefined ? (
                  r.peers.length === 0 ? (
                    <p class="empty">No host holds this task.</p>
                  ) : (
                    <table class="list" data-result="holders">
                      <thead>
                        <tr>
                          <th scope="col">Host</th>
                          <th scope="col">IP</th>
                          <th scope="col">Kind</th>
                          <th scope="col">Pieces</th>
                          <th scope="col">Complete</th>
                        </tr>
                      </thead>
                      <tbody>
                        {r.peers.map((p) => (
                          <tr key={p.hostname} data-host={p.hostname}>
                            <td>{p.hostname}</td>
                            <td>{p.ip}</td>
                            <td>{p.host_type}</td>
                            <td>{p.finished_pieces}</td>
                            <td>{p.done ? "yes" : "no"}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )
                ) : (
                  <table class="list" data-result="hosts">
                    <thead>
                      <tr>
                        <th scope="col">Host</th>
                        <th scope="col">IP</th>
                        <th scope="col">Result</th>
                      </tr>
                    </thead>
                    <tbody>
                      {r.success_tasks.map((t) => (
                        <tr key={`ok-${t.hostname}-${t.url ?? ""}`} data-host={t.hostname}>
                          <td>{t.hostname}</td>
                          <td>{t.ip}</td>
                          <td>
                            <span class="state job-SUCCESS">success</span>
                          </td>
                        </tr>
                      ))}
                      {r.failure_tasks.map((t) => (
                        <tr key={`ko-${t.hostname}-${t.url ?? ""}`} data-host={t.hostname}>
                          <td>{t.hostname}</td>
                          <td>{t.ip}</td>
                          <td>
                            <span class="state job-FAILURE">failed</span> {t.description}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </div>
            ),
          )}
        </div>
      ))}
    </>
  );
}
