#!/usr/bin/env bash
# cot-proxy: map the environment to mitmdump options and exec it.
# Usage: ./entrypoint.sh [extra mitmdump arguments]
#        ./entrypoint.sh --version    (cot-proxy's version, from VERSION, and mitmproxy's)
# Runs the mitmdump (or, with MITM_TOOL=mitmweb, mitmweb) found on PATH.
set -euo pipefail
# SIGHUP reloads CONFIG_FILE once the addon runs; until then its default would end the proxy.
# Ignored here, it stays ignored across exec until the addon takes it over (parts/rules_reload.py).
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

TARGET_BASE_URL=${TARGET_BASE_URL:-https://api.openai.com/v1/}
PORT=${PORT:-5000}
LISTEN_HOST=${LISTEN_HOST:-0.0.0.0}
LLM_PARAMS=${LLM_PARAMS:-}
CONFIG_FILE=${CONFIG_FILE:-}
THINK_TAG=${THINK_TAG:-<think>}
THINK_END_TAG=${THINK_END_TAG:-</think>}
THINK_FAMILY=${THINK_FAMILY:-}
THINK_MODE=${THINK_MODE:-strip}
REASONING_FIELD=${REASONING_FIELD:-reasoning_content}
RESPONSES_REASONING=${RESPONSES_REASONING:-text}
API_REQUEST_TIMEOUT=${API_REQUEST_TIMEOUT:-3000}
DEBUG=${DEBUG:-false}
MAX_REQUEST_BYTES=${MAX_REQUEST_BYTES:-67108864}
TARGET_CA_BUNDLE=${TARGET_CA_BUNDLE:-}
TARGET_TLS_VERIFY=${TARGET_TLS_VERIFY:-true}
METRICS_REQUIRE_KEY=${METRICS_REQUIRE_KEY:-false}
MAX_CONCURRENT_REQUESTS=${MAX_CONCURRENT_REQUESTS:-0}
SHUTDOWN_GRACE_SECONDS=${SHUTDOWN_GRACE_SECONDS:-30}
CLIENT_HEADER_TIMEOUT=${CLIENT_HEADER_TIMEOUT:-30}
CLIENT_IDLE_TIMEOUT=${CLIENT_IDLE_TIMEOUT:-300}
TARGET_SERVER=${TARGET_SERVER:-auto}
DETECT_TTL_SECONDS=${DETECT_TTL_SECONDS:-600}
REASONING_STORE_MAX_MB=${REASONING_STORE_MAX_MB:-64}
REASONING_STORE_TTL=${REASONING_STORE_TTL:-3600}
# PROXY_API_KEYS, TARGET_API_KEY and REASONING_STORE (a redis:// URL may hold a password) are
# read by the addon from the environment itself: on the command line, `ps` would show them to
# every local user.
MITM_TOOL=${MITM_TOOL:-mitmdump}
WORKERS=${WORKERS:-1}

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

if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
    fail "PORT must be a number from 1 to 65535, not '$PORT'"
fi
if ! [[ $API_REQUEST_TIMEOUT =~ ^[0-9]{1,9}$ ]] || ((10#$API_REQUEST_TIMEOUT == 0)); then
    fail "API_REQUEST_TIMEOUT must be a whole number of seconds above 0, not '$API_REQUEST_TIMEOUT'"
fi
PORT=$((10#$PORT))
API_REQUEST_TIMEOUT=$((10#$API_REQUEST_TIMEOUT))
if ! [[ $MAX_REQUEST_BYTES =~ ^[0-9]{1,15}$ ]] || ((10#$MAX_REQUEST_BYTES == 0)); then
    fail "MAX_REQUEST_BYTES must be a whole number of bytes above 0, not '$MAX_REQUEST_BYTES'"
fi
MAX_REQUEST_BYTES=$((10#$MAX_REQUEST_BYTES))
whole_number() { # NAME VALUE: a whole number (0 allowed), or fail
    [[ $2 =~ ^[0-9]{1,9}$ ]] || fail "$1 must be a whole number, not '$2'"
}
whole_number MAX_CONCURRENT_REQUESTS "$MAX_CONCURRENT_REQUESTS"
whole_number SHUTDOWN_GRACE_SECONDS "$SHUTDOWN_GRACE_SECONDS"
whole_number DETECT_TTL_SECONDS "$DETECT_TTL_SECONDS"
for name in CLIENT_HEADER_TIMEOUT CLIENT_IDLE_TIMEOUT REASONING_STORE_TTL; do
    if ! [[ ${!name} =~ ^[0-9]{1,9}$ ]] || ((10#${!name} == 0)); then
        fail "$name must be a whole number of seconds above 0, not '${!name}'"
    fi
done
if ! [[ $REASONING_STORE_MAX_MB =~ ^[0-9]{1,6}$ ]] || ((10#$REASONING_STORE_MAX_MB == 0)); then
    fail "REASONING_STORE_MAX_MB must be a whole number of MiB above 0, not '$REASONING_STORE_MAX_MB'"
fi
case ${TARGET_TLS_VERIFY,,} in
    true | 1 | yes | on) ssl_insecure=false ;;
    false | 0 | no | off) ssl_insecure=true ;;
    *) fail "TARGET_TLS_VERIFY must be true or false, not '$TARGET_TLS_VERIFY'" ;;
esac
case ${METRICS_REQUIRE_KEY,,} in
    true | 1 | yes | on) metrics_require_key=true ;;
    false | 0 | no | off | '') metrics_require_key=false ;;
    *) fail "METRICS_REQUIRE_KEY must be true or false, not '$METRICS_REQUIRE_KEY'" ;;
esac
if [[ -n $TARGET_CA_BUNDLE && ! -r $TARGET_CA_BUNDLE ]]; then
    fail "TARGET_CA_BUNDLE '$TARGET_CA_BUNDLE' is not a readable file"
fi
case ${DEBUG,,} in
    true | 1 | yes | on) verbosity=debug log_bodies=true ;;
    false | 0 | no | off | '') verbosity=info log_bodies=false ;;
    *) fail "DEBUG must be true or false, not '$DEBUG'" ;;
esac
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
command -v "$MITM_TOOL" >/dev/null ||
    fail "$MITM_TOOL is not on PATH: activate the venv (make run does) or install requirements.txt"

# mitmproxy closes client connections idle for tcp_timeout seconds without an
# HTTP answer; keep it above our own timeouts so the client gets the JSON 504
# (API_REQUEST_TIMEOUT) and the client limits are ours (parts/client_timeouts.py).
tcp_timeout=600
for t in "$API_REQUEST_TIMEOUT" "$CLIENT_HEADER_TIMEOUT" "$CLIENT_IDLE_TIMEOUT"; do
    ((10#$t + 30 <= tcp_timeout)) || tcp_timeout=$((10#$t + 30))
done

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
    --set termlog_verbosity="$verbosity"
    --set tcp_timeout="$tcp_timeout"
    --set target_base_url="$TARGET_BASE_URL"
    --set llm_params="$LLM_PARAMS"
    --set rules_file="$CONFIG_FILE"
    --set think_tag="$THINK_TAG"
    --set think_end_tag="$THINK_END_TAG"
    --set think_family="$THINK_FAMILY"
    --set think_mode="$THINK_MODE"
    --set reasoning_field="$REASONING_FIELD"
    --set responses_reasoning="$RESPONSES_REASONING"
    --set api_request_timeout="$API_REQUEST_TIMEOUT"
    --set log_bodies="$log_bodies"
    --set max_request_bytes="$MAX_REQUEST_BYTES"
    --set target_ca_bundle="$TARGET_CA_BUNDLE"
    --set ssl_insecure="$ssl_insecure"
    --set metrics_require_key="$metrics_require_key"
    --set max_concurrent_requests="$((10#$MAX_CONCURRENT_REQUESTS))"
    --set shutdown_grace_seconds="$((10#$SHUTDOWN_GRACE_SECONDS))"
    --set client_header_timeout="$((10#$CLIENT_HEADER_TIMEOUT))"
    --set client_idle_timeout="$((10#$CLIENT_IDLE_TIMEOUT))"
    --set target_server="$TARGET_SERVER"
    --set detect_ttl_seconds="$((10#$DETECT_TTL_SECONDS))"
    --set reasoning_store_max_mb="$((10#$REASONING_STORE_MAX_MB))"
    --set reasoning_store_ttl="$((10#$REASONING_STORE_TTL))"
)

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
trap 'kill -HUP "${workers[@]}" 2>/dev/null' HUP
for ((i = 0; i < WORKERS; i++)); do
    start_worker "$i"
done
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
