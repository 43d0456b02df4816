#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages. Safe to re-run: when all
# packages are already present it does nothing (no network).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libfmt-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3 curl  # run.sh: python3 formats, curl asks the server; tests/default_model: python3's ast
  libyaml-dev  # server: YAML config files (libyaml)
  libcurl4-openssl-dev  # autoglm pull: HTTPS downloads with redirects and Range resume
  nodejs       # tests/e2e: the official openai npm client; tests/deploy: node --test
  prometheus  # promtool: tests/deploy checks a live /metrics scrape and deploy/prometheus
)
# Debian's npm conflicts with NodeSource's nodejs, which bundles npm: ask for it only when no npm
# is on PATH (asking anyway makes apt-get refuse the whole install).
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
