#!/usr/bin/env bash
# The README's test command, and CI's: builds and runs the whole test suite
# (ctest), lists the skipped tests with their reasons, builds the examples
# against the installed package (scripts/test_examples.sh), then runs the
# sanitizer build's tests and every fuzzer for a bounded time
# (scripts/sanitize.sh).
#   bash scripts/test.sh          everything CI runs
#   bash scripts/test.sh --unit   the main build's ctest only (the quick local loop)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600
if [ "${1:-}" = "--unit" ]; then exit 0; fi
bash scripts/test_skips.sh build
bash scripts/test_examples.sh build
bash scripts/sanitize.sh
