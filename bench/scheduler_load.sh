#!/usr/bin/env bash
# Scheduler load benchmark: one scheduler process pinned to CPU 0, the load generator
# (build/bin/scheduler_load) pinned to CPU 1, real gRPC over loopback.
#
#   flock /tmp/df-build.lock bash bench/scheduler_load.sh [scheduler_load flags...]
#
# Builds `scheduler` and `scheduler_load` (through /tmp/df-build.lock unless this script already
# runs under it), starts the scheduler, reads its VmRSS before the load, after the hosts are
# announced and with all phase-2 peers live (the generator waits at those checkpoints), and prints
# the generator's table plus the memory rows. Extra arguments go to scheduler_load (defaults:
# --hosts 1000 --tasks 1000 --peers 10000 --concurrency 64 --seeds 4 --decision-peers 2000).
set -euo pipefail

cd "$(dirname "$0")/.."
LOCK=/tmp/df-build.lock
# BUILD_DIR: the build to bench (another checkout's, for a before/after in one run).
BUILD_DIR=${BUILD_DIR:-build}
SCHED_CPU=${SCHED_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

# True when an ancestor process is `flock ... /tmp/df-build.lock ...` (taking the lock again
# from here would wait for ourselves).
under_lock() {
  local pid=$$ cmd
  while [[ "$pid" -gt 1 ]]; do
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ "$cmd" == *flock*"$LOCK"* ]]; then
      return 0
    fi
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 1)
  done
  return 1
}

if under_lock; then
  ninja -C "$BUILD_DIR" -j2 scheduler scheduler_load >/dev/null
else
  echo "note: not started under $LOCK; the build takes it, the run does not" >&2
  flock "$LOCK" ninja -C "$BUILD_DIR" -j2 scheduler scheduler_load >/dev/null
fi

TMP=$(mktemp -d)
SCHED_PID=""
LOAD_PID=""
cleanup() {
  if [[ -n "$LOAD_PID" ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
    kill "$LOAD_PID" 2>/dev/null || true
  fi
  if [[ -n "$SCHED_PID" ]] && kill -0 "$SCHED_PID" 2>/dev/null; then
    kill "$SCHED_PID" 2>/dev/null || true
    wait "$SCHED_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SCHED_PID/status"; }
# utime + stime of the scheduler in seconds.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' \
    "/proc/$SCHED_PID/stat"
}
gauge() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m {printf "%d", $2}'
}

taskset -c "$SCHED_CPU" "$BUILD_DIR"/bin/scheduler --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  >"$TMP/sched.out" 2>"$TMP/sched.err" &
SCHED_PID=$!
for _ in $(seq 100); do
  grep -q "scheduler listening on" "$TMP/sched.out" 2>/dev/null && break
  kill -0 "$SCHED_PID" 2>/dev/null || { cat "$TMP/sched.err" >&2; exit 1; }
  sleep 0.1
done
PORT=$(sed -n 's/^scheduler listening on .*:\([0-9]*\)$/\1/p' "$TMP/sched.out")
METRICS_PORT=$(sed -n 's/.*metrics listening on .*:\([0-9]*\).*/\1/p' "$TMP/sched.err" | head -1)
[[ -n "$PORT" && -n "$METRICS_PORT" ]] || { echo "scheduler did not start" >&2; exit 1; }
sleep 0.5
RSS_BEFORE=$(rss_kib)
CPU_BEFORE=$(cpu_s)

mkdir "$TMP/sync"
PERF_PID=""
if [[ -n "${PERF_RECORD:-}" ]]; then  # optional profile of the scheduler over the whole load
  perf record ${PERF_ARGS:--g} -o "$PERF_RECORD" -p "$SCHED_PID" 2>"$TMP/perf.err" &
  PERF_PID=$!
  sleep 0.5
fi
taskset -c "$LOAD_CPU" "$BUILD_DIR"/bin/scheduler_load --target "127.0.0.1:$PORT" --sync-dir "$TMP/sync" \
  --scheduler-pid "$SCHED_PID" "$@" >"$TMP/load.out" &
LOAD_PID=$!

declare -A RSS CPU PEERS
for cp in hosts live; do
  while [[ ! -e "$TMP/sync/$cp.ready" ]]; do
    kill -0 "$LOAD_PID" 2>/dev/null || { cat "$TMP/load.out"; echo "generator exited" >&2; exit 1; }
    sleep 0.01
  done
  sleep 0.2  # let the scheduler's threads go idle
  RSS[$cp]=$(rss_kib)
  CPU[$cp]=$(cpu_s)
  PEERS[$cp]=$(gauge dragonfly_scheduler_peers)
  touch "$TMP/sync/$cp.go"
done
LOAD_RC=0
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=""
RSS_END=$(rss_kib)
if [[ -n "$PERF_PID" ]]; then
  kill -INT "$PERF_PID"
  wait "$PERF_PID" || true
fi
PEERS_END=$(gauge dragonfly_scheduler_peers)
TASKS=$(gauge dragonfly_scheduler_tasks)

cat "$TMP/load.out"
LIVE=${PEERS[live]}
per_peer() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}'; }
echo "| scheduler RSS before load / hosts announced / peers live / end | ${RSS_BEFORE} / ${RSS[hosts]} / ${RSS[live]} / ${RSS_END} KiB | |"
echo "| live peers held by the scheduler (gauge; seed peers included) / tasks | ${LIVE} / ${TASKS} (end: ${PEERS_END} peers) | |"
echo "| RSS per live peer = (RSS live - RSS before) / live peers | $(per_peer "${RSS[live]}" "$RSS_BEFORE" "$LIVE") B | <= 2048 B |"
echo "| RSS per live peer, hosts excluded = (RSS live - RSS hosts) / live peers | $(per_peer "${RSS[live]}" "${RSS[hosts]}" "$LIVE") B | |"
echo "| scheduler CPU time: phase 1 / phase 2 (register + retry + report) | $(awk -v a="$CPU_BEFORE" -v b="${CPU[hosts]}" 'BEGIN {printf "%.2f", b - a}') / $(awk -v a="${CPU[hosts]}" -v b="${CPU[live]}" 'BEGIN {printf "%.2f", b - a}') s | |"
echo
echo "scheduler: pid $SCHED_PID on CPU $SCHED_CPU, generator on CPU $LOAD_CPU, $(nproc) CPUs," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "scheduler log lines: $(wc -l <"$TMP/sched.err"), warnings/errors: $(grep -ciE '\] \[(warning|error)\]' "$TMP/sched.err" || true)"
exit "$LOAD_RC"
