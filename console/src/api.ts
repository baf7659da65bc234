// The manager's REST API, as the console uses it. The session token (a JWT from sign-in) is kept
// in sessionStorage; any 401 ends the session and sends the user back to the sign-in page.

export interface Scopes {
  idc?: string;
  location?: string;
  cidrs?: string[];
  hostnames?: string[];
}

// The scheduler cluster's settings (each 0 to 1000; unset or 0: the scheduler's own default).
export interface ClusterConfig {
  candidate_parent_limit?: number;
  filter_parent_limit?: number;
  back_to_source_count?: number;
  upload_slots?: number;
  job_rate_limit?: number;
  blocked_hosts?: string[];
  blocklist?: Blocklist;
}

// Tasks a cluster refuses to distribute (its schedulers answer PermissionDenied, the proxy 403):
// `client` for normal peers, `seed_client` for seed peers. URLs are RE2 regexes matched anywhere.
export interface BlockRules {
  applications?: string[];
  urls?: string[];
  tags?: string[];
}
export interface Blocklist {
  client?: { task?: BlockRules };
  seed_client?: { task?: BlockRules };
}

export interface Cluster {
  id: number;
  name: string;
  bio: string;
  is_default: boolean;
  scopes: Scopes;
  scheduler_cluster_config: ClusterConfig;
  config_version: number;
  created_at: string;
  updated_at: string;
}

// What a cluster form sends.
export interface ClusterInput {
  name: string;
  bio: string;
  is_default: boolean;
  scopes: Scopes;
  scheduler_cluster_config: ClusterConfig;
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
  version: string;
  git_commit: string;
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
  return (await requestWithHeaders<T>(method, path, body)).data;
}

async function requestWithHeaders<T>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ data: T; headers: Headers }> {
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
  return { data: data as T, headers: resp.headers };
}

export async function signIn(name: string, password: string): Promise<void> {
  const r = await request<{ token: string }>("POST", "/api/v1/users/signin", { name, password });
  setToken(r.token);
}

// Whether this manager lets anyone sign up (auth.allowSignUp).
export async function signUpAllowed(): Promise<boolean> {
  return (await request<{ allowed: boolean }>("GET", "/api/v1/users/signup")).allowed;
}

// Signs up as a guest, then signs in.
export async function signUp(name: string, email: string, password: string): Promise<void> {
  await request<User>("POST", "/api/v1/users/signup", { name, email, password });
  await signIn(name, password);
}

export function signOut() {
  setToken(null);
}

// Who is signed in, from the session token's claims (the manager checks them on every call).
export function whoAmI(): { name: string; role: string; id: number } | null {
  const t = token();
  const payload = t?.split(".")[1];
  if (!payload) {
    return null;
  }
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return { name: String(claims.name ?? ""), role: String(claims.role ?? ""), id: Number(claims.id) };
  } catch {
    return null;
  }
}

export function listClusters(): Promise<Cluster[]> {
  return request<Cluster[]>("GET", "/api/v1/clusters");
}

export function getCluster(id: number): Promise<Cluster> {
  return request<Cluster>("GET", `/api/v1/clusters/${id}`);
}

export function createCluster(c: ClusterInput): Promise<Cluster> {
  return request<Cluster>("POST", "/api/v1/clusters", c);
}

export function updateCluster(id: number, c: ClusterInput): Promise<Cluster> {
  return request<Cluster>("PATCH", `/api/v1/clusters/${id}`, c);
}

// Replaces the cluster's blocklist (the rest of its config stays).
export function updateBlocklist(id: number, blocklist: Blocklist): Promise<Cluster> {
  return request<Cluster>("PATCH", `/api/v1/clusters/${id}`, { scheduler_cluster_config: { blocklist } });
}

export function deleteCluster(id: number): Promise<void> {
  return request<void>("DELETE", `/api/v1/clusters/${id}`);
}

export function deleteComponent(kind: ComponentKind, id: number): Promise<void> {
  return kind === "schedulers"
    ? request<void>("DELETE", `/api/v1/schedulers/${id}`)
    : request<void>("DELETE", `/api/v1/seed-peers/${id}`);
}

// The daemons seen asking for schedulers (a peer's cluster is the one the manager chose for it).
export function listPeers(): Promise<Component[]> {
  return request<Component[]>("GET", "/api/v1/peers");
}

export function listComponents(kind: ComponentKind): Promise<Component[]> {
  return kind === "schedulers"
    ? request<Component[]>("GET", "/api/v1/schedulers")
    : request<Component[]>("GET", "/api/v1/seed-peers");
}

// Jobs: preheat, get_task, delete_task (Dragonfly's job API).
export type JobState = "PENDING" | "SUCCESS" | "FAILURE";

export interface HostResult {
  hostname: string;
  ip: string;
  url?: string;
  host_type?: string;
  description?: string;
}

export interface TaskHolder {
  id: string;
  hostname: string;
  ip: string;
  host_type: string;
  finished_pieces: number;
  done: boolean;
}

export interface JobResultGroup {
  scheduler_cluster_id: number;
  success_tasks: HostResult[];
  failure_tasks: HostResult[];
  peers?: TaskHolder[]; // get_task (get_image_distribution: LayerHolder[])
  image?: ImageLayers; // get_image_distribution
}

// get_image_distribution: an image's layers, and the hosts holding any of them.
export interface ImageLayers {
  manifest_url: string;
  platform: string;
  manifest_digest: string;
  layers: { url: string; digest: string; media_type: string; task_id: string }[];
}
export interface LayerHolder {
  hostname: string;
  ip: string;
  host_type: string;
  scheduler_cluster_id: number;
  layers: { digest: string; finished_pieces: number; done: boolean }[];
}

export interface Job {
  id: number;
  type: "preheat" | "get_task" | "delete_task" | "get_image_distribution";
  state: JobState;
  bio: string;
  task_id: string;
  args: Record<string, unknown>;
  result: {
    state?: JobState;
    job_states?: { state: JobState; error: string; results: JobResultGroup[] }[];
  } | null;
  scheduler_clusters?: { id: number }[];
  created_at: string;
  updated_at: string;
}

export interface JobInput {
  type: Job["type"];
  bio?: string;
  args: Record<string, unknown>;
  scheduler_cluster_ids?: number[];
}

export async function listJobs(
  query: { state?: string; type?: string; page: number; perPage: number },
): Promise<{ jobs: Job[]; total: number }> {
  const q = new URLSearchParams({ page: String(query.page), per_page: String(query.perPage) });
  if (query.state) q.set("state", query.state);
  if (query.type) q.set("type", query.type);
  const r = await requestWithHeaders<Job[]>("GET", `/api/v1/jobs?${q}`);
  return { jobs: r.data, total: Number(r.headers.get("X-Total-Count") ?? r.data.length) };
}

export function getJob(id: number): Promise<Job> {
  return request<Job>("GET", `/api/v1/jobs/${id}`);
}

export function createJob(job: JobInput): Promise<Job> {
  return request<Job>("POST", "/api/v1/jobs", job);
}

export function deleteJob(id: number): Promise<void> {
  return request<void>("DELETE", `/api/v1/jobs/${id}`);
}

// Users (root manages them; everyone their own password) and personal access tokens.
export interface User {
  id: number;
  name: string;
  email: string;
  role: "root" | "guest";
  state: "enable" | "disable";
}

export function listUsers(): Promise<User[]> {
  return request<User[]>("GET", "/api/v1/users");
}

export function getUser(id: number): Promise<User> {
  return request<User>("GET", `/api/v1/users/${id}`);
}

export function createUser(u: { name: string; email: string; password: string; role: User["role"] }): Promise<User> {
  return request<User>("POST", "/api/v1/users", u);
}

export function updateUser(id: number, patch: Partial<Pick<User, "role" | "state" | "email">>): Promise<User> {
  return request<User>("PATCH", `/api/v1/users/${id}`, patch);
}

// Changes a password; the manager then ends every session signed in with the old one, so the
// console signs in again with the new one (`name` is the signed-in user's, when it is theirs).
export async function changePassword(
  id: number,
  oldPassword: string,
  newPassword: string,
  reSignInAs?: string,
): Promise<void> {
  await request<void>("POST", `/api/v1/users/${id}/reset_password`, {
    old_password: oldPassword,
    new_password: newPassword,
  });
  if (reSignInAs) {
    await signIn(reSignInAs, newPassword);
  }
}

export type TokenScope = "job" | "cluster";

export interface AccessToken {
  id: number;
  name: string;
  bio: string;
  scopes: TokenScope[];
  state: "active" | "inactive";
  expired_at: string;
  user_id: number;
  created_at: string;
}

export function listTokens(): Promise<AccessToken[]> {
  return request<AccessToken[]>("GET", "/api/v1/personal-access-tokens");
}

// The token's secret is in the answer only: it is shown once.
export function createToken(t: {
  name: string;
  bio: string;
  scopes: TokenScope[];
  expired_at: string;
}): Promise<AccessToken & { token: string }> {
  return request<AccessToken & { token: string }>("POST", "/api/v1/personal-access-tokens", t);
}

export function setTokenState(id: number, state: AccessToken["state"]): Promise<void> {
  return request<void>("PATCH", `/api/v1/personal-access-tokens/${id}`, { state });
}

export function deleteToken(id: number): Promise<void> {
  return request<void>("DELETE", `/api/v1/personal-access-tokens/${id}`);
}

// The live swarm view (from the schedulers, through the manager).
export interface SwarmTask {
  task_id: string;
  url: string;
  content_length: number;
  peers: number;
  succeeded: number;
  running: number;
  last_active_ms_ago: number;
  scheduler: string;
  cluster_id: number;
}

export interface SwarmEdge {
  from_peer_id: string;
  from_hostname: string;
  bytes_total: number;
  rate_bps: number;
}

export interface SwarmPeer {
  peer_id: string;
  hostname: string;
  ip: string;
  phase: "pending" | "triggered" | "running" | "succeeded" | "failed";
  seed: boolean;
  back_to_source: boolean;
  finished_pieces: number;
  total_pieces: number;
  bytes_from_peers: number;
  bytes_from_origin: number;
  rate_bps: number;
  last_report_ms_ago: number;
  inbound: SwarmEdge[];
}

export interface Swarm {
  task_id: string;
  url: string;
  content_length: number;
  piece_length: number;
  total_pieces: number;
  scheduler: string;
  cluster_id: number;
  peers: SwarmPeer[];
}

export function listSwarmTasks(): Promise<SwarmTask[]> {
  return request<SwarmTask[]>("GET", "/api/v1/swarm/tasks?limit=100");
}

export function getSwarm(taskId: string): Promise<Swarm> {
  return request<Swarm>("GET", `/api/v1/swarm/tasks/${encodeURIComponent(taskId)}`);
}

// Persistent cache tasks (dfcache): files kept on N hosts until they expire, with no origin.
export interface PersistentCacheHolder {
  host_id: string;
  hostname: string;
  ip: string;
  seed: boolean;
  last_seen_ms_ago: number;
}

export interface PersistentCacheTask {
  task_id: string;
  tag: string;
  application: string;
  content_length: number;
  piece_length: number;
  total_pieces: number;
  digest: string;
  replicas: number;
  state: "ready" | "replicating";
  replicating: boolean;
  created_at_ms: number;
  expires_at_ms: number;
  holders: PersistentCacheHolder[];
  scheduler: string;
  cluster_id: number;
}

export function listPersistentCacheTasks(): Promise<PersistentCacheTask[]> {
  return request<PersistentCacheTask[]>("GET", "/api/v1/persistent-cache-tasks");
}

export function deletePersistentCacheTask(taskId: string): Promise<{ task_id: string; hosts: number }> {
  return request<{ task_id: string; hosts: number }>(
    "DELETE",
    `/api/v1/persistent-cache-tasks/${encodeURIComponent(taskId)}`,
  );
}
