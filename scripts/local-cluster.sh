#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds the project and runs a local cluster (scheduler, a seed
# peer, two peers and a sample origin on loopback) with a P2P download that reports where its
# bytes came from. Extra arguments go to tools/local_cluster.py (e.g. --size-mb 1024 --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build scheduler dfdaemon dfget manager console
exec python3 tools/local_cluster.py "$@"
