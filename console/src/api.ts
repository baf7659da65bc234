// The manager's REST API, as the console uses it. The session token (a JWT from sign-in) is kept
// in sessionStorage; any 401 ends the session and sends the user back to the sign-in page.

export interface Cluster {
  id: number;
  name: string;
  bio: string;
  is_default: boolean;
  scopes: { idc?: string; location?: string; cidrs?: string[]; hostnames?: string[] };
  created_at: string;
  updated_at: string;
}

// A scheduler or seed peer as the manager knows it (its keepalive).
export interface Component {
  id: number;
  host_name: string;
  ip: string;
  port: number;
  idc: string;
  location: string;
  state: "active" | "inactive";
  updated_at: string;
  scheduler_cluster_id?: number;
  seed_peer_cluster_id?: number;
  download_port?: number;
}

export type ComponentKind = "schedulers" | "seed-peers";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "df-console-token";
const listeners = new Set<() => void>();
// Whether the last session ended because the manager refused its token (not by signing out).
// Kept here, beside the token, so that every 401 of a burst agrees on it.
let expired = false;

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function sessionExpired(): boolean {
  return expired;
}

// Calls fn on every sign-in, sign-out and expiry; returns the unsubscribe function.
export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setToken(value: string | null, ended = false) {
  expired = ended;
  if (value === null) {
    sessionStorage.removeItem(TOKEN_KEY);
  } else {
    sessionStorage.setItem(TOKEN_KEY, value);
  }
  listeners.forEach((fn) => fn());
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const t = token();
  if (t) {
    headers["Authorization"] = `Bearer ${t}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "the manager cannot be reached");
  }
  const text = await resp.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const said =
      data !== null && typeof data === "object" && "message" in data
        ? String((data as { message: unknown }).message)
        : "";
    const message = said || `${resp.status} ${resp.statusText}`;
    if (resp.status === 401 && t && token() === t) {
      setToken(null, true); // expired or revoked: sign in again
    }
    throw new ApiError(resp.status, message);
  }
  return data as T;
}

export async function signIn(name: string, password: string): Promise<void> {
  const r = await request<{ token: string }>("POST", "/api/v1/users/signin", { name, password });
  setToken(r.token);
}

export function signOut() {
  setToken(null);
}

export function listClusters(): Promise<Cluster[]> {
  return request<Cluster[]>("GET", "/api/v1/clusters");
}

export function listComponents(kind: ComponentKind): Promise<Component[]> {
  return kind === "schedulers"
    ? request<Component[]>("GET", "/api/v1/schedulers")
    : request<Component[]>("GET", "/api/v1/seed-peers");
}
