#!/usr/bin/env bash
# Runs every libFuzzer target of a DF_SANITIZE clang build for a bounded time, starting from its
# committed seed corpus (fuzz/corpus/<target>, read-only; new inputs go to a temp dir).
#   bash scripts/fuzz.sh build-asan 20      # 20 s per target
# Exit status non-zero on the first crash, leak or sanitizer report (the input is kept and named).
# The mutation seed is fixed (DF_FUZZ_SEED, default 1): a CI run explores a prefix of the same
# sequence a longer local run does, so CI is not red by chance; vary it to explore elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
seconds=${2:-20}
seed=${DF_FUZZ_SEED:-1}
work=$(mktemp -d /tmp/df-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
for bin in "$build"/fuzz/fuzz_*; do
  name=$(basename "$bin")
  mkdir -p "$work/$name"
  echo "-- $name (${seconds}s)"
  if ! "$bin" -seed="$seed" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 \
      -artifact_prefix="$work/$name-" "$work/$name" "fuzz/corpus/$name" >"$work/$name.log" 2>&1; then
    tail -60 "$work/$name.log"
    mkdir -p /tmp/df-fuzz-crashes
    cp "$work/$name"-* /tmp/df-fuzz-crashes/ 2>/dev/null || true
    echo "fuzz: $name failed; inputs in /tmp/df-fuzz-crashes" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$name.log" | tr '\n' ' '
  echo
done
