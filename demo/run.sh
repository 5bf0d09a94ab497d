#!/usr/bin/env bash
# make demo: the proxy (127.0.0.1:${PORT:-5000}) in front of demo/upstream.py, a scripted
# reasoning model on 127.0.0.1:${DEMO_UPSTREAM_PORT:-8099}. Stop both with Ctrl-C.
# Extra arguments go to ./entrypoint.sh; the proxy's other settings come from the environment.
# Both listen on this machine only (a demo has no business on the network): LISTEN_HOST=0.0.0.0
# opens the proxy to others.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
upstream_port=${DEMO_UPSTREAM_PORT:-8099}
export LISTEN_HOST=${LISTEN_HOST:-127.0.0.1}

python "$root/demo/upstream.py" --port "$upstream_port" &
upstream=$!
TARGET_BASE_URL="http://127.0.0.1:$upstream_port/v1" "$root/entrypoint.sh" "$@" &
proxy=$!
# Jobs started with & ignore SIGINT in a script: pass Ctrl-C and SIGTERM on ourselves.
signalled=0
trap 'signalled=1; kill -TERM "$proxy" "$upstream" 2>/dev/null || true' INT TERM
trap 'kill -TERM "$upstream" 2>/dev/null || true' EXIT
status=0
wait "$proxy" || status=$?
if ((signalled)); then
    wait "$proxy" 2>/dev/null || true # until the proxy has stopped
    exit 0
fi
exit "$status"
