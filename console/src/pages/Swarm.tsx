import { Swarm, SwarmPeer, getSwarm, listSwarmTasks } from "../api";
import { useLoad } from "../load";

export function bytesText(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

const ago = (ms: number) => (ms < 0 ? "never" : ms < 1500 ? "just now" : `${Math.round(ms / 1000)} s ago`);

// The tasks the schedulers saw lately, most recent first; each opens its live view.
export function SwarmTasks() {
  const tasks = useLoad(listSwarmTasks, [], 2000);
  return (
    <section aria-labelledby="swarm-title">
      <h2 id="swarm-title">Swarm</h2>
      <p>Pick a running or recent task to watch its swarm: who feeds whom, at what rate.</p>
      {tasks.error && (
        <p class="error" role="alert">
          Could not ask the schedulers: {tasks.error}
        </p>
      )}
      {!tasks.error && tasks.data === null && <p class="loading">Asking the schedulers...</p>}
      {tasks.data !== null && tasks.data.length === 0 && (
        <p class="empty">No scheduler has seen a task lately (or no scheduler is active).</p>
      )}
      {tasks.data !== null && tasks.data.length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Size</th>
              <th scope="col">Peers</th>
              <th scope="col">Done / running</th>
              <th scope="col">Scheduler</th>
              <th scope="col">Last activity</th>
            </tr>
          </thead>
          <tbody>
            {tasks.data.map((t) => (
              <tr key={t.task_id} data-task={t.task_id}>
                <td class="wrap">
                  <a href={`#/swarm/${t.task_id}`}>{t.url || t.task_id.slice(0, 16)}</a>
                </td>
                <td>{t.content_length >= 0 ? bytesText(t.content_length) : "?"}</td>
                <td>{t.peers}</td>
                <td>
                  {t.succeeded} / {t.running}
                </td>
                <td>{t.scheduler}</td>
                <td>{ago(t.last_active_ms_ago)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const phaseColour: Record<SwarmPeer["phase"], string> = {
  pending: "#9aa3b2",
  triggered: "#9aa3b2",
  running: "#2f6fde",
  succeeded: "#1e8c45",
  failed: "#b3261e",
};

const progress = (p: SwarmPeer) => (p.total_pieces > 0 ? Math.min(1, p.finished_pieces / p.total_pieces) : 0);

// Node positions: seeds (and the origin) on the left, the other peers on a circle.
function layout(peers: SwarmPeer[], width: number, height: number) {
  const at = new Map<string, { x: number; y: number }>();
  const seeds = peers.filter((p) => p.seed);
  const others = peers.filter((p) => !p.seed);
  seeds.forEach((p, i) => at.set(p.peer_id, { x: 110, y: ((i + 1) * height) / (seeds.length + 1) }));
  const cx = width / 2 + 80;
  const cy = height / 2;
  const r = Math.min(width / 2 - 120, height / 2 - 50);
  others.forEach((p, i) => {
    // Half a step off the horizontal: no peer sits on the line from the seed to the far side.
    const step = (2 * Math.PI) / Math.max(1, others.length);
    const a = step * i - Math.PI / 2 + step / 2;
    at.set(p.peer_id, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) });
  });
  return at;
}

function Graph({ swarm }: { swarm: Swarm }) {
  const width = 900;
  const height = 460;
  const at = layout(swarm.peers, width, height);
  const origin = { x: 30, y: height / 2 };
  const maxRate = Math.max(1, ...swarm.peers.flatMap((p) => p.inbound.map((e) => e.rate_bps)));
  return (
    <svg class="swarm" viewBox={`0 0 ${width} ${height}`} role="img" aria-label="The swarm: hosts and the pieces between them">
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="33"
          refY="5"
          markerUnits="userSpaceOnUse"
          markerWidth="8"
          markerHeight="8"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#5b6475" />
        </marker>
      </defs>
      <g data-node="origin">
        <rect x={origin.x - 24} y={origin.y - 14} width="48" height="28" rx="4" fill="#fff4d6" stroke="#7a5b00" />
        <text x={origin.x} y={origin.y + 4} text-anchor="middle" font-size="11">
          origin
        </text>
      </g>
      {swarm.peers
        .filter((p) => p.bytes_from_origin > 0 || (p.back_to_source && p.phase === "running"))
        .map((p) => {
          const to = at.get(p.peer_id)!;
          return (
            <line
              key={`o-${p.peer_id}`}
              data-edge={`origin->${p.hostname}`}
              data-back-to-source="true"
              x1={origin.x + 24}
              y1={origin.y}
              x2={to.x}
              y2={to.y}
              stroke="#c28f00"
              stroke-width="2"
              stroke-dasharray="6 4"
              marker-end="url(#arrow)"
            />
          );
        })}
      {swarm.peers.flatMap((p) =>
        p.inbound
          .filter((e) => at.has(e.from_peer_id))
          .map((e) => {
            const from = at.get(e.from_peer_id)!;
            const to = at.get(p.peer_id)!;
            const live = e.rate_bps > 0;
            return (
              <g key={`${e.from_peer_id}-${p.peer_id}`}>
                <line
                  data-edge={`${e.from_hostname}->${p.hostname}`}
                  data-rate={e.rate_bps}
                  x1={from.x}
                  y1={from.y}
                  x2={to.x}
                  y2={to.y}
                  stroke={live ? "#2f6fde" : "#c5cad3"}
                  stroke-width={live ? 1.5 + (4 * e.rate_bps) / maxRate : 1}
                  marker-end="url(#arrow)"
                >
                  <title>
                    {e.from_hostname} to {p.hostname}: {bytesText(e.rate_bps)}/s now, {bytesText(e.bytes_total)} in all
                  </title>
                </line>
                {live && (
                  <text x={(from.x + to.x) / 2} y={(from.y + to.y) / 2 - 4} font-size="10" text-anchor="middle" fill="#1f4fa8">
                    {bytesText(e.rate_bps)}/s
                  </text>
                )}
              </g>
            );
          }),
      )}
      {swarm.peers.map((p) => {
        const c = at.get(p.peer_id)!;
        const f = progress(p);
        const arc = 2 * Math.PI * 16;
        return (
          <g key={p.peer_id} data-node={p.hostname} data-phase={p.phase}>
            <circle cx={c.x} cy={c.y} r="16" fill="#fff" stroke="#e3e6eb" stroke-width="5" />
            <circle
              cx={c.x}
              cy={c.y}
              r="16"
              fill="none"
              stroke={phaseColour[p.phase]}
              stroke-width="5"
              stroke-dasharray={`${f * arc} ${arc}`}
              transform={`rotate(-90 ${c.x} ${c.y})`}
            />
            <text x={c.x} y={c.y + 4} text-anchor="middle" font-size="9">
              {Math.round(f * 100)}%
            </text>
            <text x={c.x} y={c.y + 32} text-anchor="middle" font-size="11">
              {p.hostname}
              {p.seed ? " (seed)" : ""}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

// One task's swarm, refreshed every second.
export function SwarmView({ taskId }: { taskId: string }) {
  const swarm = useLoad(() => getSwarm(taskId), [taskId], 1000);
  const s = swarm.data;
  if (s === null) {
    return (
      <section>
        <h2>Swarm of task {taskId.slice(0, 16)}</h2>
        {swarm.error ? (
          <p class="error" role="alert">
            {swarm.error}
          </p>
        ) : (
          <p class="loading">Asking the schedulers...</p>
        )}
        <a href="#/swarm">All tasks</a>
      </section>
    );
  }
  const done = s.peers.filter((p) => p.phase === "succeeded").length;
  const fromPeers = s.peers.reduce((n, p) => n + p.bytes_from_peers, 0);
  const fromOrigin = s.peers.reduce((n, p) => n + p.bytes_from_origin, 0);
  return (
    <section aria-labelledby="swarm-task-title">
      <header class="page-header">
        <h2 id="swarm-task-title" class="wrap">
          Swarm of {s.url || `task ${s.task_id.slice(0, 16)}`}
        </h2>
        <a href="#/swarm">All tasks</a>
      </header>
      {swarm.error && (
        <p class="error" role="alert">
          Not refreshed: {swarm.error}
        </p>
      )}
      <p data-summary="swarm">
        {done} of {s.peers.length} peers done · {bytesText(fromPeers)} traded between peers ·{" "}
        {bytesText(fromOrigin)} from the origin · {s.content_length >= 0 ? bytesText(s.content_length) : "size unknown"} ·
        scheduler {s.scheduler}
      </p>
      <Graph swarm={s} />
      <table class="list" data-table="swarm-peers">
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Progress</th>
            <th scope="col">Receiving</th>
            <th scope="col">From peers</th>
            <th scope="col">From the origin</th>
            <th scope="col">Fed by</th>
            <th scope="col">Last report</th>
          </tr>
        </thead>
        <tbody>
          {s.peers.map((p) => (
            <tr key={p.peer_id} data-host={p.hostname} data-phase={p.phase}>
              <td>
                {p.hostname} {p.seed && <span class="badge">seed</span>}{" "}
                {p.back_to_source && <span class="badge">back to source</span>}
              </td>
              <td>
                <progress max={1} value={progress(p)} aria-label={`${p.hostname} progress`} /> {Math.round(progress(p) * 100)}%{" "}
                <span class="muted">{p.phase}</span>
              </td>
              <td>{p.rate_bps > 0 ? `${bytesText(p.rate_bps)}/s` : "-"}</td>
              <td>{bytesText(p.bytes_from_peers)}</td>
              <td>{bytesText(p.bytes_from_origin)}</td>
              <td class="wrap">
                {p.inbound
                  .filter((e) => e.bytes_total > 0)
                  .map((e) => `${e.from_hostname || e.from_peer_id.slice(0, 8)} ${bytesText(e.bytes_total)}`)
                  .join(", ") || "-"}
              </td>
              <td>{ago(p.last_report_ms_ago)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
