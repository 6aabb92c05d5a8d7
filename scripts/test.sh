#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite with ctest, then lists the
# skipped tests with their reasons, then builds the examples against the
# installed package (scripts/test_examples.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
bash scripts/test_skips.sh build
bash scripts/test_examples.sh build
