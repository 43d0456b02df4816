#!/usr/bin/env bash
# End-to-end tests with the official `openai` npm client: installs the pinned client (npm ci,
# from package-lock.json) into a copy under the build directory, then runs `node --test`.
# usage: run.sh BUILD_DIR SHARED_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
build="$1"
shared="$2"
work="$build/e2e"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "e2e: '$tool' not found (scripts/install-deps.sh installs nodejs npm)" >&2; exit 1; }
done
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$work/"
# Reinstall only when the lock file changed.
if ! cmp -s "$src/package-lock.json" "$work/node_modules/.autoglm-lock" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$src/package-lock.json" "$work/node_modules/.autoglm-lock"
fi
cd "$work"
export AUTOGLM_BIN="$build/bin/autoglm"
export AUTOGLM_MODEL="$shared/models/stories260K.gguf"
export AUTOGLM_REFERENCE="$shared/reference/stories260K/greedy.json"
exec node --test openai.test.mjs
