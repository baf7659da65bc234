// Loading data for a page: the value, or the error to show, and a way to load it again.
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, Job, getJob } from "./api";

export interface Loaded<T> {
  data: T | null; // null while loading (or after an error)
  error: string | null;
  reload: () => void;
}

export function errorText(err: unknown): string {
  return err instanceof ApiError ? err.message : String(err);
}

// Calls `fetch` now, whenever `deps` change or reload() is called, and every `refreshMs` when
// given (the data shown stays until the new answer); an answer that arrives after a newer call (or
// after the page is gone) is dropped.
export function useLoad<T>(fetch: () => Promise<T>, deps: unknown[] = [], refreshMs = 0): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    let live = true;
    setError(null);
    fetch()
      .then((value) => live && setData(value))
      .catch((err) => {
        if (live) {
          setData(null);
          setError(errorText(err));
        }
      });
    return () => {
      live = false;
    };
  }, [...deps, generation]);

  useEffect(() => {
    if (refreshMs <= 0) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);

  return { data, error, reload };
}

// Follows a job until it ends (every second), calling back with each state.
export function useJob(id: number | null): { job: Job | null; error: string | null } {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJob(null);
    setError(null);
    if (id === null) return;
    let live = true;
    let timer = 0;
    const poll = () =>
      getJob(id)
        .then((j) => {
          if (!live) return;
          setJob(j);
          if (j.state === "PENDING") timer = window.setTimeout(poll, 1000);
        })
        .catch((err) => live && setError(errorText(err)));
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  return { job, error };
}

