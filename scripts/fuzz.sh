#!/usr/bin/env bash
# Runs every libFuzzer harness of build-asan/fuzz for FHELLM_FUZZ_SECONDS
# seconds each (default 10: a smoke run in CI; run longer by hand), as many at once as there are cores, each from its
# seed corpus in tests/fuzz/corpus/<name> (new inputs go to a scratch
# folder, the repository is not written). A crash, leak, timeout or undefined
# behaviour fails the script; the input is kept in build-asan/fuzz-findings/.
#   bash scripts/fuzz.sh [NAME...]      (built by scripts/sanitize.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FHELLM_FUZZ_SECONDS:-10}"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(cd tests/fuzz && ls *_fuzzer.cpp | sed 's/_fuzzer.cpp$//')
fi
mkdir -p build-asan/fuzz-findings
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for name in "${names[@]}"; do
  [ -x "build-asan/fuzz/fhellm_fuzz_$name" ] || { echo "fuzz: build-asan/fuzz/fhellm_fuzz_$name is not built (scripts/sanitize.sh)"; exit 1; }
done

# One fuzzer: its log in build-asan/fuzz-findings/NAME.log, one line on stdout.
run_one() {
  local name="$1" seconds="$2" scratch start runs
  scratch="$(mktemp -d)"
  start=$(date +%s)
  if ! "build-asan/fuzz/fhellm_fuzz_$name" "$scratch" "tests/fuzz/corpus/$name" -max_total_time="$seconds" -timeout=30 \
        -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="build-asan/fuzz-findings/$name-" \
        >"build-asan/fuzz-findings/$name.log" 2>&1; then
    tail -40 "build-asan/fuzz-findings/$name.log"
    echo "fuzz: $name FAILED (input kept in build-asan/fuzz-findings/)"
    rm -rf "$scratch"
    return 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-asan/fuzz-findings/$name.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz: $name ok ($runs inputs in $(( $(date +%s) - start )) s)"
  rm -rf "$scratch"
}
export -f run_one

start=$(date +%s)
if ! printf '%s\n' "${names[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one "$@"' _ {} "$seconds"; then
  echo "fuzz: a fuzzer failed"
  exit 1
fi
echo "fuzz: ${#names[@]} fuzzers of ${seconds} s, $(nproc) at once, $(( $(date +%s) - start )) s in all, no finding"
