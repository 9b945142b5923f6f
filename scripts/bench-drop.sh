#!/usr/bin/env bash
# Runs a simulated drop end to end on this machine: a private Redis, gate instances, the example order
# service, then `waitroom bench drop` against every gate. Extra arguments go to bench drop.
#   BUILD=release|debug (default release), or BIN=<folder with the binaries>   SHOPPERS, RATE, ABANDON, ARRIVALS, CLAIM_WINDOW, CONNECTIONS (see defaults)
#   GATES=n (default 2)   REDIS=single|sentinel|cluster (default single: one append-only redis-server; sentinel:
#   a primary, a replica and three sentinels; cluster: three primaries) — the gates get that URL form.
#   HOG_SECONDS=n: a CPU hog (HOG_LOOPS busy loops, default one per core) runs beside the drop for its first n seconds, and
#   `--check` then allows errors until n + RECOVER_SECONDS (default 10) and none after: the drop must recover.
#   CACHE=nginx: the reference nginx (Docker/nginx.conf, upstream and paths rewritten) in front of the gates; the
#   shoppers go through it and the report counts the requests that still reached a gate (from the gates' metrics).
#   POLL_MODE=board|status (default board): shoppers follow the room board as the waiting page does, or poll status.
#   CONNECTIONS per gate defaults to 32: on a 2-core machine shared with the gates, more connections cost
#   more in scheduling than they add (measured: 256 → status p99 119 ms, 64 → 58 ms, 32 → 12 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-release}
SHOPPERS=${SHOPPERS:-100000}
RATE=${RATE:-400}
ABANDON=${ABANDON:-0.2}
ARRIVALS=${ARRIVALS:-spike:0.8:60:60}
CLAIM_WINDOW=${CLAIM_WINDOW:-60}
OUT=${OUT:-bench-results}

scripts/install-deps.sh
source scripts/lib.sh
# BIN: a folder that already holds waitroom and example-order-service (skips the build).
if [ -n "${BIN:-}" ]; then bin=$BIN; else build_products "$BUILD" waitroom example-order-service; fi
dir=$(mktemp -d /tmp/waitroom-drop.XXXXXX)
start_redis_topology "${REDIS:-single}" "$dir"
gates=(); gate_args=(); pid_args=()
for _ in $(seq "${GATES:-2}"); do gates+=("$(free_port)"); done
orders=$(free_port)

"$bin/waitroom" keys generate --out "$dir/signing.pem" >/dev/null
export WAITROOM_REDIS_URL="$redis_url"
export WAITROOM_SIGNING_KEY_FILE="$dir/signing.pem"
export WAITROOM_TICKET_SECRET="drop-bench-ticket-secret-$RANDOM$RANDOM"
export WAITROOM_ADMIN_KEY="drop-bench-admin-key-0123456789"
export WAITROOM_SERVICE_KEY="drop-bench-service-key-0123456789"
export WAITROOM_LOG_LEVEL=warning
# The simulator gives each shopper (and each bot client) an address of its own in X-Forwarded-For.
export WAITROOM_TRUSTED_PROXIES="127.0.0.1/32,::1/128"
cd "$dir"  # no Config/ here: defaults plus the environment above
for port in "${gates[@]}"; do
    WAITROOM_HTTP_PORT=$port "$bin/waitroom" serve & started_pids+=($!)
    gate_args+=(--gate "http://127.0.0.1:$port"); pid_args+=(--server-pid "$!")
done
# The order service posts checkout's health to the drop's room (the rate tuner's signal); its capacity model
# is off unless ORDER_SERVICE_CAPACITY is set (see scripts/bench-autotune.sh).
ORDER_SERVICE_HEALTH_ROOM=${ORDER_SERVICE_HEALTH_ROOM:-bench-drop} ORDER_SERVICE_PORT=$orders WAITROOM_URL="http://127.0.0.1:${gates[0]}" \
    "$bin/example-order-service" & started_pids+=($!)
cd - >/dev/null
for port in "${gates[@]}"; do wait_http "http://127.0.0.1:$port/readyz"; done
wait_http "http://127.0.0.1:$orders/healthz"
echo "bench-drop: ${#gates[@]} gate(s) on $redis_url"

front_args=("${gate_args[@]}"); metrics_args=(); connections=${CONNECTIONS:-32}
if [ "${CACHE:-none}" = nginx ]; then
    # nginx's workers run unprivileged: their folder is one of its own, open to them (the drop's folder is not).
    cache_dir=$(mktemp -d /tmp/waitroom-drop-nginx.XXXXXX); chmod 777 "$cache_dir"
    proxy=$(free_port)
    scripts/nginx-conf.py "$cache_dir" "$proxy" "${gates[@]}" >"$cache_dir/nginx.conf"
    /usr/sbin/nginx -p "$cache_dir" -c "$cache_dir/nginx.conf" -g 'daemon off;' & started_pids+=($!)
    wait_http "http://127.0.0.1:$proxy/healthz"
    # A cacheable answer goes through nginx's cache files: a cache that cannot write them answers nothing.
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$proxy/v1/rooms/no-such-room/board" || true)
    [ "$code" = 404 ] || { echo "bench-drop: nginx's cache does not answer a board ($code): see $cache_dir/error.log" >&2; exit 1; }
    front_args=(--gate "http://127.0.0.1:$proxy")
    connections=$((connections * ${#gates[@]}))  # one front for all the gates: as many connections as they had together
    for port in "${gates[@]}"; do metrics_args+=(--gate-metrics "http://127.0.0.1:$port"); done
    echo "bench-drop: nginx (Docker/nginx.conf) on port $proxy in front of the gates"
fi

hog_args=()
if [ "${HOG_SECONDS:-0}" -gt 0 ]; then
    # The drop's clock starts a few seconds later (the gates' idle CPU is measured first): the hog covers
    # the drop's first HOG_SECONDS at most.
    for _ in $(seq "${HOG_LOOPS:-$(nproc)}"); do timeout "$((HOG_SECONDS + 4))" sh -c 'while :; do :; done' & started_pids+=($!); done
    hog_args=(--errors-until "$((HOG_SECONDS + ${RECOVER_SECONDS:-10}))")
    echo "bench-drop: ${HOG_LOOPS:-$(nproc)} busy loops for the drop's first ${HOG_SECONDS} s"
fi

"$bin/waitroom" bench drop "${hog_args[@]}" --connections "$connections" "${front_args[@]}" "${metrics_args[@]}" \
    --poll-mode "${POLL_MODE:-board}" \
    --order-service "http://127.0.0.1:$orders" \
    --shoppers "$SHOPPERS" --rate "$RATE" --abandon "$ABANDON" --arrivals "$ARRIVALS" --claim-window "$CLAIM_WINDOW" \
    "${pid_args[@]}" --out "$OUT" "$@"
