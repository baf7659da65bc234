import { useState } from "preact/hooks";
import { createJob, whoAmI } from "../api";
import { errorText, useJob } from "../load";
import { ImageSearch } from "./ImageSearch";
import { JobResults } from "./JobDetail";
import { Alert } from "../ui";

// Which hosts hold a task (a get_task job), and deleting it everywhere (a delete_task job).
export function Tasks() {
  const [url, setUrl] = useState("");
  const [taskId, setTaskId] = useState("");
  const [tag, setTag] = useState("");
  const [application, setApplication] = useState("");
  const [filtered, setFiltered] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [searchId, setSearchId] = useState<number | null>(null);
  const [deleteId, setDeleteId] = useState<number | null>(null);
  const search = useJob(searchId);
  const removal = useJob(deleteId);
  const root = whoAmI()?.role === "root";

  function args(): Record<string, unknown> {
    const a: Record<string, unknown> = taskId.trim() ? { task_id: taskId.trim() } : { url: url.trim() };
    if (tag) a.tag = tag;
    if (application) a.application = application;
    if (filtered.trim()) a.filtered_query_params = filtered.trim();
    return a;
  }

  async function start(type: "get_task" | "delete_task") {
    setError(null);
    if (!url.trim() && !taskId.trim()) {
      setError("Give the task's URL or its ID.");
      return;
    }
    try {
      const job = await createJob({ type, args: args() });
      if (type === "get_task") {
        setDeleteId(null);
        setSearchId(job.id);
      } else {
        setDeleteId(job.id);
      }
    } catch (err) {
      setError(errorText(err));
    }
  }

  const holders = search.job?.result?.job_states?.flatMap((s) => s.results.flatMap((r) => r.peers ?? [])) ?? [];
  return (
    <section aria-labelledby="tasks-title">
      <h2 id="tasks-title">Find or delete a task</h2>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void start("get_task");
        }}
      >
        <fieldset>
          <legend>The task</legend>
          <label>
            URL
            <input name="url" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            or task ID
            <input name="task_id" value={taskId} onInput={(e) => setTaskId((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Tag
            <input name="tag" value={tag} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Application
            <input name="application" value={application} onInput={(e) => setApplication((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Filtered query parameters
            <input name="filtered" value={filtered} onInput={(e) => setFiltered((e.target as HTMLInputElement).value)} />
          </label>
        </fieldset>
        <Alert message={error} />
        <div class="actions">
          <button type="submit">Search</button>
        </div>
      </form>
      <Alert message={search.error} />
      {search.job && search.job.state === "PENDING" && <p class="loading">Asking every host...</p>}
      {search.job && search.job.state !== "PENDING" && (
        <div data-search-done="true">
          <h3>
            {holders.length === 0 ? "No host holds this task." : `${holders.length} host${holders.length > 1 ? "s" : ""} hold this task`}
          </h3>
          {holders.length > 0 && <JobResults job={search.job} />}
          {holders.length > 0 && root && deleteId === null && (
            <button type="button" class="danger" onClick={() => void start("delete_task")}>
              Delete it on every host
            </button>
          )}
        </div>
      )}
      <Alert message={removal.error} />
      {removal.job && removal.job.state === "PENDING" && <p class="loading">Deleting...</p>}
      {removal.job && removal.job.state !== "PENDING" && (
        <div data-delete-done={removal.job.state}>
          <h3>{removal.job.state === "SUCCESS" ? "Deleted on every host." : "The deletion failed on some hosts."}</h3>
          <JobResults job={removal.job} />
        </div>
      )}
      <ImageSearch />
    </section>
  );
}
