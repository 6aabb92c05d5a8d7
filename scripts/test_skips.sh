#!/usr/bin/env bash
# Lists the tests the last ctest run skipped, each with the reason it printed
# (GTEST_SKIP() << "...", or pytest's -rs summary), and counts them. scripts/test.sh runs it after
# ctest; run it by hand after any ctest in ./build (or give the build folder).
set -euo pipefail
cd "$(dirname "$0")/.."
log="${1:-build}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || { echo "test_skips: no $log (run ctest first)" >&2; exit 1; }
awk '
  /^[0-9]+\/[0-9]+ Test: / { name = $3; next }
  /: Skipped$/ { want = 1; reason = ""; next }
  want && /^\[  SKIPPED \]/ { want = 0; skipped[name] = reason; next }
  # pytest (-rs): "SKIPPED [2] python/tests/test_x.py:12: needs ../shared: no ..."
  /^SKIPPED \[[0-9]+\] / { r = $0; sub(/^SKIPPED \[[0-9]+\] [^ ]*: /, "", r); skipped[name " (pytest)"] = r; next }
  want { reason = reason (reason == "" ? "" : " ") $0; next }
  END {
    n = 0
    for (t in skipped) ++n
    printf "[fhellm] %d test%s skipped\n", n, n == 1 ? "" : "s"
    for (t in skipped) printf "  skipped %s: %s\n", t, skipped[t] == "" ? "(no reason printed)" : skipped[t]
  }' "$log" | { read -r head; echo "$head"; sort; }
