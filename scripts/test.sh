#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test:
#   1. clang-format check of the whole tree
#   2. gcc 12 build (warnings are errors) + all unit and end-to-end tests (real registry,
#      containerd and skopeo included), then a smoke run of the network-namespace cluster bench
#   3. clang-19 ASan+UBSan build + all tests again (the big-file e2e test uses 64 MiB there)
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
