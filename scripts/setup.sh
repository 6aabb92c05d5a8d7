#!/usr/bin/env bash
# Installs every Debian 12 package fhellm needs, then configures and builds it
# into ./build (Ninja, RelWithDebInfo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev                 # AES-CTR / SHAKE seeds, RAND_bytes, HTTPS
  libopenblas-dev            # clear matmuls of the client (never the reference BLAS)
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libcpp-httplib-dev         # the client transport
  libboost-dev               # Boost.Beast / Asio: the server's HTTP layer (bounded before work)
  libhiredis-dev             # serve --session-store redis:// (sessions shared by replicas)
  redis-server haproxy       # the replicas' test: Redis and a load balancer on loopback ports
  libsentencepiece-dev       # SentencePiece .model tokenizers
  libgtest-dev libgmock-dev libbenchmark-dev
  curl                       # the gateway's end-to-end test speaks HTTP with it
  python3-dev python3-pybind11   # the Python package (python/)
  python3-numpy python3-pytest python3-torch  # its tests (fhellm.torch on PyTorch models)
  clang libclang-rt-14-dev   # the sanitizer build and libFuzzer (scripts/sanitize.sh)
)
# Node.js and npm run the gateway's test with the official OpenAI client;
# a machine that has them already (e.g. from NodeSource) keeps its own.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packages' own services are not ours: the tests start their Redis and
# HAProxy on free loopback ports and stop them. A system Redis on 6379 would
# not break them, but it is memory and a port nobody asked for.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd systemctl disable --now redis-server haproxy >/dev/null 2>&1 || true
fi

# The OpenAI client for tests/gateway (npm, pinned by its package-lock.json).
npm ci --prefix tests/gateway --no-audit --no-fund --loglevel=error

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${FHELLM_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)"
