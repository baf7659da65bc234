#!/usr/bin/env bash
# Installs every Debian package needed to build, test and run the project (Debian 12).
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
pkgs=(
  build-essential cmake ninja-build pkgconf ccache git ca-certificates curl python3 openssl
  iproute2 zlib1g-dev
  libgrpc++-dev libre2-dev pkg-config protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libpq-dev libmariadb-dev libargon2-dev
  postgresql mariadb-server
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libsystemd-dev
  debootstrap systemd umoci busybox-static
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-19 clang-format-19 libclang-rt-19-dev lld-19 llvm-19
  nginx-light aria2 opentracker mktorrent
  docker-registry containerd runc skopeo prometheus
  chromium
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl, for the tests of deploy/kubernetes (`kubectl kustomize`): Debian's kubernetes-client,
# unless another package already owns /usr/bin/kubectl (then Debian's is unpacked below).
if ! command -v kubectl >/dev/null; then
  missing+=(kubernetes-client)
fi
# The web console's build (console/) needs node and npm: Debian's, unless the machine has them
# already (e.g. from NodeSource, whose nodejs package bundles npm and conflicts with Debian's).
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  # Packages such as docker-registry, containerd and opentracker ship services; the tests start
  # their own instances, so keep apt from starting the system ones (where nothing forbids it).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Another kubectl owns /usr/bin/kubectl: Debian's (1.20, kustomize 2.0, the oldest the manifests
# support) goes to /opt/dragonfly-test/kubernetes-client, and the tests render with both.
kc=/opt/dragonfly-test/kubernetes-client
if [[ ! -x $kc/usr/bin/kubectl ]] &&
   ! dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed"; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && { apt-get download -qq kubernetes-client 2>/dev/null ||
                     { $SUDO apt-get update -qq && apt-get download -qq kubernetes-client; }; }); then
    $SUDO mkdir -p "$kc" && $SUDO dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$kc"
  else
    echo "install-deps: warning: could not fetch Debian's kubernetes-client; the manifests are" \
         "rendered with $(command -v kubectl) only" >&2
  fi
  rm -rf "$tmp"
fi
