#!/usr/bin/env bash
# Runs every libFuzzer target build/fuzz/bin/*_fuzz for SECONDS each (default 60), one after the
# other, and fails if any finds a crash, a leak, UB, a timeout or an out-of-memory.
# Build first: cmake --preset fuzz && cmake --build --preset fuzz
# For a fuzzer NAME_fuzz, bin/NAME_seeds (if built) writes its seed corpus into the corpus folder.
# Corpora grow in build/fuzz/corpus/NAME; crashing inputs land in build/fuzz/artifacts/NAME/.
# AUTOGLM_FUZZ_DIR=DIR uses another build folder than build/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
dir=${AUTOGLM_FUZZ_DIR:-build/fuzz}  # the fuzz preset's build folder
bin=$dir/bin
shopt -s nullglob
fuzzers=("$bin"/*_fuzz)
if ((${#fuzzers[@]} == 0)); then
  echo "run-fuzzers: no fuzzers in $bin (cmake --preset fuzz && cmake --build --preset fuzz)" >&2
  exit 1
fi
# UBSan only reports by default; make it fatal so libFuzzer records the input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer" _fuzz)
  corpus=$dir/corpus/$name
  artifacts=$dir/artifacts/$name/
  log=$dir/$name.log
  mkdir -p "$corpus" "$artifacts"
  if [ -x "$bin/${name}_seeds" ]; then
    "$bin/${name}_seeds" "$corpus"
  fi
  echo "run-fuzzers: $name for ${seconds}s"
  if "$fuzzer" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units" "$log" | sed "s/^/  $name /" || true
  else
    echo "run-fuzzers: FAIL $name (log $log, inputs in $artifacts):" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
