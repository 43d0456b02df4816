#!/usr/bin/env bash
# Installs tests/deploy's npm packages exactly as package-lock.json pins them, once: a stamp with
# the lock file's hash skips the install while the lock is unchanged (ctest runs this before the
# deploy tests, as a fixture).
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.autoglm-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
