#!/usr/bin/env bash
# The main job: install dependencies, build the release binary, serve the built-in code model
# (models/default.gguf) in the background, wait for /health, ask it to complete
# `def fibonacci(n):` with curl, and stop the server.
# AUTOGLM_MODEL=FILE.gguf (or hf://REPO/FILE) serves another model; AUTOGLM_PORT picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

port="${AUTOGLM_PORT:-8080}"
build/release/bin/autoglm serve --port "$port" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { echo "run.sh: the server exited" >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "run.sh: no /health after 60 s" >&2; exit 1; }

echo "--- POST /v1/completions {\"prompt\": \"def fibonacci(n):\\n\", \"max_tokens\": 64, \"temperature\": 0}"
curl -s "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
  -d '{"prompt": "def fibonacci(n):\n", "max_tokens": 64, "temperature": 0}' | tee /dev/stderr |
  python3 -c 'import json, sys; print("--- completion:\ndef fibonacci(n):\n" + json.load(sys.stdin)["choices"][0]["text"])'
