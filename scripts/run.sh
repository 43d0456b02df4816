#!/usr/bin/env bash
# The main job: install dependencies, build the release binary and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
model="${AUTOGLM_MODEL:-../shared/models/stories260K.gguf}"
exec build/release/bin/autoglm generate -m "$model" -p "${AUTOGLM_PROMPT:-Once upon a time}" -n 64
