#!/usr/bin/env bash
# cot-proxy: map the environment to mitmdump options and exec it.
# Usage: ./entrypoint.sh [extra mitmdump arguments]
#        ./entrypoint.sh --version    (cot-proxy's version, from VERSION, and mitmproxy's)
# Runs the mitmdump (or, with MITM_TOOL=mitmweb, mitmweb) found on PATH.
set -euo pipefail
# SIGHUP reloads CONFIG_FILE once the addon runs; until then its default would end the proxy.
# Ignored here, it stays ignored across exec until the addon takes it over (parts/rules_reload.py).
# One that arrived ignored (nohup) bash can neither trap nor pass on: noted for WORKERS > 1.
hup_ignored_on_entry=$(trap -p HUP)
trap '' HUP

here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION" 2>/dev/null) || version=unknown

if [[ ${1:-} == --version ]]; then
    echo "cot-proxy $version"
    if command -v "${MITM_TOOL:-mitmdump}" >/dev/null; then
        "${MITM_TOOL:-mitmdump}" --version
    fi
    exit 0
fi

fail() {
    echo "cot-proxy: $*" >&2
    exit 2
}

PORT=${PORT:-5000}
LISTEN_HOST=${LISTEN_HOST:-0.0.0.0}
MITM_TOOL=${MITM_TOOL:-mitmdump}
WORKERS=${WORKERS:-1}

if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
    fail "PORT must be a number from 1 to 65535, not '$PORT'"
fi
PORT=$((10#$PORT))
case $MITM_TOOL in
    mitmdump) tool_args=(--set flow_detail=0) ;; # our addon logs one line per request
    mitmweb) tool_args=(--no-web-open-browser) ;;
    *) fail "MITM_TOOL must be mitmdump or mitmweb, not '$MITM_TOOL'" ;;
esac
if [[ ${WORKERS,,} == auto ]]; then
    WORKERS=$(nproc)
fi
if ! [[ $WORKERS =~ ^[0-9]{1,3}$ ]] || ((10#$WORKERS < 1 || 10#$WORKERS > 256)); then
    fail "WORKERS must be a number from 1 to 256, or auto, not '$WORKERS'"
fi
WORKERS=$((10#$WORKERS))
if ((WORKERS > 1)) && [[ $MITM_TOOL == mitmweb ]]; then
    fail "WORKERS must be 1 with mitmweb (one web UI, one process)"
fi
tool_path=$(command -v "$MITM_TOOL") ||
    fail "$MITM_TOOL is not on PATH: activate the venv (make run does) or install requirements.txt"

# Every option is a row of addon/cot_proxy/settings.py, the one table: run with the Python beside
# mitmdump (any python3 would do: it needs the standard library only), it reads the environment,
# refuses a malformed or too small number, a bad yes/no or a missing file with one line (exit 2),
# and prints the target URL, then the --set arguments, each ended by NUL. What a text means (a known
# THINK_MODE, a family) the addon checks as it starts. PROXY_API_KEYS and TARGET_API_KEY are read by
# the addon from the environment itself: on the command line, `ps` would show them to every local user.
python=$(dirname "$tool_path")/python3
[[ -x $python ]] || python=python3
mapfile -d '' -t options < <(PYTHONPATH="$here/addon" "$python" -P -m cot_proxy.settings)
wait $! || exit
TARGET_BASE_URL=${options[0]}
options=("${options[@]:1}")

# A reverse-mode spec cannot carry a path: take scheme://host[:port] for --mode,
# the addon takes the whole URL and prepends its path.
url_re='^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)$'
[[ $TARGET_BASE_URL =~ $url_re ]] ||
    fail "TARGET_BASE_URL '$TARGET_BASE_URL' must start with http:// or https://, e.g. http://localhost:8000/v1"
scheme=$(printf '%s' "${BASH_REMATCH[1]}" | tr '[:upper:]' '[:lower:]')
hostport=${BASH_REMATCH[2]}
case $scheme in
    http | https) ;;
    *) fail "TARGET_BASE_URL '$TARGET_BASE_URL' must start with http:// or https://" ;;
esac
[[ -n $hostport && $hostport != *@* && $hostport != :* ]] ||
    fail "TARGET_BASE_URL '$TARGET_BASE_URL' needs a host (and no credentials), e.g. http://localhost:8000/v1"
if [[ $hostport =~ :([^]:]*)$ ]]; then
    target_port=${BASH_REMATCH[1]}
    [[ $target_port =~ ^[0-9]{1,5}$ ]] ||
        fail "TARGET_BASE_URL '$TARGET_BASE_URL' has an invalid port '$target_port'"
fi

# mitmproxy writes its CA into its confdir at start. Keep that, the only thing
# written, in a fresh private directory (mktemp -d: mode 0700) under TMPDIR, so
# the image runs with a read-only root filesystem and as any uid, whatever HOME.
# Naming confdir also makes mitmproxy load its CA while configuring instead of
# after the port is open: a request in that gap would crash it.
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/cot-proxy.XXXXXXXX" 2>/dev/null) ||
    fail "cannot create a directory under ${TMPDIR:-/tmp}: set TMPDIR to a writable directory (in a container: --tmpfs /tmp)"

# server=false: the addon opens the port once it is loaded (see Listening in addon.py).
args=(
    "${tool_args[@]}"
    --set server=false
    --mode "reverse:$scheme://$hostport"
    --listen-host "$LISTEN_HOST" --listen-port "$PORT"
    -s "$here/addon/main.py"
    --set connection_strategy=lazy
    --set block_global=false
    "${options[@]}"
)

# Python's -O for mitmdump: it drops mitmproxy's debug-only checks (a type check of every field of
# every request and answer it builds, an event-type check in every layer step), which cost a small
# request about a quarter of its CPU (docs/performance.md). PYTHONOPTIMIZE= (empty) keeps them.
export PYTHONOPTIMIZE=${PYTHONOPTIMIZE-1}

# The log's first line: what runs, where to (the URL carries no credentials: refused above).
echo "cot-proxy $version: $MITM_TOOL in front of $TARGET_BASE_URL, on $LISTEN_HOST:$PORT, $WORKERS worker(s)"

if ((WORKERS == 1)); then
    # One process: /metrics reads its own memory; a leftover directory would mix in old runs.
    unset PROMETHEUS_MULTIPROC_DIR
    exec "$MITM_TOOL" "${args[@]}" --set confdir="$run_dir/mitmproxy" "$@"
fi

# Every worker writes its metrics into one fresh directory, so that a scrape answered by any
# of them counts all (prometheus_client's multiprocess mode); removed when we exit.
# The run directory (the workers' confdirs included) goes with it.
PROMETHEUS_MULTIPROC_DIR="$run_dir/metrics"
mkdir "$PROMETHEUS_MULTIPROC_DIR" || fail "cannot create $PROMETHEUS_MULTIPROC_DIR"
export PROMETHEUS_MULTIPROC_DIR
trap 'rm -rf -- "$run_dir"' EXIT

# WORKERS > 1: N processes share the port (SO_REUSEPORT; the kernel spreads the
# connections). A stop signal reaches every worker (each drains, see parts/shutdown.py;
# a second signal stops them at once); so does SIGHUP (each reloads CONFIG_FILE). A worker that dies is started again after a
# short pause while the others serve; one that keeps dying (DEATHS_MAX times within
# DEATHS_WINDOW seconds) stops the proxy non-zero, so that the container is restarted.
DEATHS_MAX=5
DEATHS_WINDOW=60
extra=("$@")
workers=()
deaths=()
stopping=0
start_worker() { # INDEX
    # one confdir each: workers starting together would write the same CA files. SIGHUP
    # ignored until the worker takes it over (a child gets our trap's default, not ours).
    (
        trap '' HUP
        exec "$MITM_TOOL" "${args[@]}" --set reuse_port=true --set confdir="$run_dir/worker-$1" "${extra[@]}"
    ) &
    workers[$1]=$!
}
stop_workers() {
    kill -TERM "${workers[@]}" 2>/dev/null || true
}
wait_all() { # until every worker is gone (a signal interrupts `wait`)
    local pid
    for pid in "${workers[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do
            wait "$pid" 2>/dev/null || true
        done
    done
}
trap 'stopping=1; stop_workers' TERM INT
# `|| true`: under set -e a failing kill in the trap ends this shell, and kill fails for a worker
# that died and waits for its restart, and before the first one starts (no PIDs at all).
trap 'kill -HUP "${workers[@]}" 2>/dev/null || true' HUP
for ((i = 0; i < WORKERS; i++)); do
    start_worker "$i"
done
if [[ -n $hup_ignored_on_entry ]]; then
    echo "cot-proxy: SIGHUP was ignored when this shell started (nohup?), so it cannot pass the signal on: kill -HUP $$ reloads nothing. Signal the workers (kill -HUP ${workers[*]}); CONFIG_FILE is also reloaded when it changes" >&2
fi
while true; do
    dead='' status=0
    wait -n -p dead "${workers[@]}" || status=$?
    if ((stopping)); then
        wait_all
        exit 0
    fi
    [[ -n ${dead:-} ]] || continue # woken by a signal (wait -p then unsets it), not by a worker
    now=$SECONDS
    recent=()
    for t in "${deaths[@]}" "$now"; do
        ((now - t < DEATHS_WINDOW)) && recent+=("$t")
    done
    deaths=("${recent[@]}")
    if ((${#deaths[@]} >= DEATHS_MAX)); then
        echo "cot-proxy: workers died $DEATHS_MAX times within $DEATHS_WINDOW s (last: $dead, status $status); stopping" >&2
        stopping=1
        stop_workers
        wait_all
        exit $((status == 0 ? 1 : status))
    fi
    for i in "${!workers[@]}"; do
        if [[ ${workers[$i]} == "$dead" ]]; then
            echo "cot-proxy: worker $dead exited with status $status; starting a new one in 1 s" >&2
            sleep 1
            ((stopping)) || start_worker "$i"
        fi
    done
done
