#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build everything once with
# AddressSanitizer + UndefinedBehaviorSanitizer (-Werror), build and run the libFuzzer targets,
# then run every test (unit, the openai-client end-to-end suite, the deployment checks) against
# that sanitized build, so the server under real sockets and real clients runs under ASan too.
# The last lines are ctest's summary.
#
# One sanitized build instead of a sanitized and a release build keeps CI within its time on two
# cores (the release build is what scripts/run.sh makes; `cmake --preset release` by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"

if [ -f fuzz/CMakeLists.txt ]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs" --target fuzzers
  bash scripts/run-fuzzers.sh "${AUTOGLM_FUZZ_SECONDS:-60}"
fi

ctest --preset asan -j "$jobs"
