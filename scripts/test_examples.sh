#!/usr/bin/env bash
# Installs fhellm from the build folder into a staging prefix, builds
# examples/ against the installed package (find_package(fhellm)) as a user's
# project would, and runs the three examples on the bundled model: a server
# and a client over HTTP, and the C API with the server in process.
# Usage: scripts/test_examples.sh [BUILD_DIR]   (after the build and ctest)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
stage="$PWD/$build/stage"
work="$PWD/$build/examples-run"
rm -rf "$stage" "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$stage" >/dev/null
cmake -S examples -B "$build/examples" -G Ninja -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$build/examples" -j"$(nproc)" >/dev/null

"$build/fhellm" compile --model models/stories260K.bin --out "$work/stories" >/dev/null
"$build/examples/fhellm_example_server" "$work/stories.server" 0 >"$work/server.out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^http' "$work/server.out" && break
  sleep 0.1
done
url=$(head -n 1 "$work/server.out")
"$build/examples/fhellm_example_client" "$work/stories.client" "$url" "Once upon a time" | tee "$work/client.out"
"$build/examples/fhellm_example_c" models/stories260K.bin "Lily and Ben" | tee "$work/c.out"
kill -INT $server
wait $server
trap - EXIT
grep -q "16 tokens" "$work/client.out"
grep -q "fhellm .*: 16 tokens" "$work/c.out"
grep -q "served 352 linear calls" "$work/server.out"  # 16 tokens x (the token lookup, 5 layers x 4 groups, the head)
echo "[fhellm] examples built against the installed package and ran"
