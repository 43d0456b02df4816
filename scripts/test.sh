#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build (release and ASan+UBSan),
# run the unit tests under ASan+UBSan, run the fuzz targets, then the full suite on the release
# build. The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs" -L unit

if [ -f fuzz/CMakeLists.txt ]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs" --target fuzzers
  bash scripts/run-fuzzers.sh "${AUTOGLM_FUZZ_SECONDS:-60}"
fi

cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"
