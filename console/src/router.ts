// Hash routes: the page and its parameters, from location.hash.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "clusters" }
  | { page: "cluster-new" }
  | { page: "cluster"; id: number }
  | { page: "cluster-edit"; id: number }
  | { page: "components" }
  | { page: "jobs" }
  | { page: "job-new" }
  | { page: "job"; id: number }
  | { page: "tasks" }
  | { page: "users" }
  | { page: "tokens" }
  | { page: "profile" }
  | { page: "peers" }
  | { page: "swarm" }
  | { page: "swarm-task"; taskId: string }
  | { page: "cache" }
  | { page: "not-found"; hash: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const id = Number(parts[1]);
  const validId = Number.isInteger(id) && id > 0;
  const first = parts[0] ?? "clusters";
  switch (first) {
    case "clusters":
      if (parts.length === 1 || parts.length === 0) return { page: "clusters" };
      if (parts[1] === "new" && parts.length === 2) return { page: "cluster-new" };
      if (validId && parts.length === 2) return { page: "cluster", id };
      if (validId && parts[2] === "edit" && parts.length === 3) return { page: "cluster-edit", id };
      break;
    case "components":
      if (parts.length === 1) return { page: "components" };
      break;
    case "jobs":
      if (parts.length === 1) return { page: "jobs" };
      if (parts[1] === "new" && parts.length === 2) return { page: "job-new" };
      if (validId && parts.length === 2) return { page: "job", id };
      break;
    case "swarm":
      if (parts.length === 1) return { page: "swarm" };
      if (parts.length === 2 && /^[0-9a-f]{1,128}$/.test(parts[1])) return { page: "swarm-task", taskId: parts[1] };
      break;
    case "cache":
    case "tasks":
    case "users":
    case "tokens":
    case "profile":
    case "peers":
      if (parts.length === 1) return { page: first };
      break;
  }
  return { page: "not-found", hash };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  return route;
}

export function go(hash: string) {
  location.hash = hash;
}
