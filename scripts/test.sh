#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test:
#   1. clang-format check of the whole tree
#   2. gcc 12 build (warnings are errors) + all unit and end-to-end tests (real registry,
#      containerd and skopeo included), then a smoke run of the network-namespace cluster bench
#   3. clang-19 ASan+UBSan build + all tests again (the big-file e2e test uses 64 MiB there)
#   4. clang-19 ThreadSanitizer build of the piece exchange's, the daemon's and the scheduler's
#      unit tests, and those tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== clang-format check"
git ls-files '*.cc' '*.h' | xargs clang-format-19 --dry-run --Werror

jobs=$(nproc)
# ccache hits across clones and build dirs: hash paths relative to the source tree.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
echo "== gcc build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDF_WERROR=ON >/dev/null
ninja -C build -j"$jobs"
echo "== gcc tests"
(cd build && ctest --output-on-failure -j2)
echo "== cluster bench smoke (3 hosts in network namespaces)"
python3 bench/cluster_bench.py --smoke
echo "== tracing bench smoke (tracing off, collector black-holing, collector down)"
python3 bench/tracing_bench.py --quick --results-dir "$(mktemp -d)"

echo "== clang-19 ASan+UBSan build"
CC=clang-19 CXX=clang++-19 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDF_WERROR=ON -DDF_SANITIZE=ON -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld-19 >/dev/null
ninja -C build-asan -j"$jobs"
echo "== ASan+UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
export DF_E2E_BIG_MB=64 DF_E2E_LAYER_MB=16
(cd build-asan && ctest --output-on-failure -j2)
echo "== libFuzzer targets (fuzz/, 20 s each from their seed corpora)"
bash scripts/fuzz.sh build-asan 20

echo "== clang-19 ThreadSanitizer build (piece, daemon, scheduler unit tests)"
CC=clang-19 CXX=clang++-19 cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDF_WERROR=ON -DDF_TSAN=ON -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld-19 >/dev/null
ninja -C build-tsan -j"$jobs" piece_test daemon_test scheduler_test
echo "== ThreadSanitizer tests"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp:external_symbolizer_path=/usr/lib/llvm-19/bin/llvm-symbolizer"
for t in piece_test daemon_test scheduler_test; do
  build-tsan/tests/$t --gtest_brief=1
done
