#!/usr/bin/env bash
# Runs every libFuzzer harness of build-asan/fuzz for FHELLM_FUZZ_SECONDS
# seconds each (default 20), starting from its seed corpus in
# tests/fuzz/corpus/<name> (new inputs go to a scratch folder, the repository
# is not written). A crash, leak, timeout or undefined behaviour fails the
# script; the input is kept in build-asan/fuzz-findings/.
#   bash scripts/fuzz.sh [NAME...]      (built by scripts/sanitize.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FHELLM_FUZZ_SECONDS:-20}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(cd tests/fuzz && ls *_fuzzer.cpp | sed 's/_fuzzer.cpp$//')
fi
mkdir -p build-asan/fuzz-findings
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
total=0
for name in "${names[@]}"; do
  bin="build-asan/fuzz/fhellm_fuzz_$name"
  [ -x "$bin" ] || { echo "fuzz: $bin is not built (scripts/sanitize.sh)"; exit 1; }
  scratch="$(mktemp -d)"
  start=$(date +%s)
  if ! "$bin" "$scratch" "tests/fuzz/corpus/$name" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="build-asan/fuzz-findings/$name-" >"build-asan/fuzz-findings/$name.log" 2>&1; then
    tail -40 "build-asan/fuzz-findings/$name.log"
    echo "fuzz: $name FAILED (input kept in build-asan/fuzz-findings/)"
    rm -rf "$scratch"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-asan/fuzz-findings/$name.log" | grep -o '[0-9]*$' || echo '?')
  elapsed=$(( $(date +%s) - start ))
  total=$((total + elapsed))
  echo "fuzz: $name ok ($runs inputs in ${elapsed} s)"
  rm -rf "$scratch"
done
echo "fuzz: ${#names[@]} fuzzers, ${total} s in all, no finding"
