#!/bin/sh
# Container entrypoint: `autoglm serve` configured by environment variables and a mounted file.
#
#   AUTOGLM_<FLAG>=value   becomes --<flag>=value for every long flag of `autoglm serve`
#                          (AUTOGLM_MODEL, AUTOGLM_PORT, AUTOGLM_MAX_RUNNING, AUTOGLM_KV_MEMORY, ...;
#                          AUTOGLM_LOG_PROMPTS=true for a switch). AUTOGLM_API_KEY is read by the
#                          server itself, never put on the command line.
#   AUTOGLM_CONFIG         the config file (default /etc/autoglm/config/server.yaml when present).
#   arguments              more flags for `autoglm serve` (give each setting once: by env or by
#                          argument); a first argument that is not a flag runs that sub-command
#                          instead (`docker run IMAGE doctor`).
# exec keeps the server as PID 1, so SIGTERM from `docker stop` or the kubelet reaches it directly.
set -eu

bin="${AUTOGLM_BIN:-autoglm}"

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
  exec "$bin" "$@"
fi

if [ -z "${AUTOGLM_CONFIG:-}" ] && [ -f /etc/autoglm/config/server.yaml ]; then
  AUTOGLM_CONFIG=/etc/autoglm/config/server.yaml
fi

# The flags come from the binary's own --help, so a new server flag needs no change here.
flags=$("$bin" serve --help | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u)
env_args=""
for flag in $flags; do
  case "$flag" in
    --help | --api-key) continue ;;
  esac
  var="AUTOGLM_$(printf '%s' "${flag#--}" | tr 'a-z-' 'A-Z_')"
  # $var is built from [A-Z0-9_] only, so eval reads a variable and nothing else.
  eval "value=\${$var-}"
  if [ -n "$value" ]; then
    set -- "$@" "$flag=$value"
    env_args="$env_args $flag"
  fi
done

echo "autoglm-entrypoint: from the environment:${env_args:- nothing}" >&2
exec "$bin" serve "$@"
