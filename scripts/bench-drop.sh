#!/usr/bin/env bash
# Runs a simulated drop end to end on this machine: a private Redis (append-only), two gate instances, the
# example order service, then `waitroom bench drop` against both gates. Extra arguments go to bench drop.
#   BUILD=release|debug (default release)   SHOPPERS, RATE, ABANDON, ARRIVALS, CLAIM_WINDOW, CONNECTIONS (see defaults)
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
swift build -c "$BUILD" --product waitroom
swift build -c "$BUILD" --product example-order-service
bin=$(swift build -c "$BUILD" --show-bin-path)

source scripts/lib.sh
dir=$(mktemp -d /tmp/waitroom-drop.XXXXXX)
start_redis "$dir" "$(free_port)"
gate1=$(free_port); gate2=$(free_port); orders=$(free_port)

"$bin/waitroom" keys generate --out "$dir/signing.pem" >/dev/null
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port"
export WAITROOM_SIGNING_KEY_FILE="$dir/signing.pem"
export WAITROOM_TICKET_SECRET="drop-bench-ticket-secret-$RANDOM$RANDOM"
export WAITROOM_ADMIN_KEY="drop-bench-admin-key-0123456789"
export WAITROOM_SERVICE_KEY="drop-bench-service-key-0123456789"
export WAITROOM_LOG_LEVEL=warning
# The simulator gives each shopper (and each bot client) an address of its own in X-Forwarded-For.
export WAITROOM_TRUSTED_PROXIES="127.0.0.1/32,::1/128"
cd "$dir"  # no Config/ here: defaults plus the environment above
WAITROOM_HTTP_PORT=$gate1 "$bin/waitroom" serve & gate1_pid=$!; started_pids+=($gate1_pid)
WAITROOM_HTTP_PORT=$gate2 "$bin/waitroom" serve & gate2_pid=$!; started_pids+=($gate2_pid)
ORDER_SERVICE_PORT=$orders WAITROOM_URL="http://127.0.0.1:$gate1" "$bin/example-order-service" & started_pids+=($!)
cd - >/dev/null
wait_http "http://127.0.0.1:$gate1/readyz"
wait_http "http://127.0.0.1:$gate2/readyz"
wait_http "http://127.0.0.1:$orders/healthz"

"$bin/waitroom" bench drop --connections "${CONNECTIONS:-32}" \
    --gate "http://127.0.0.1:$gate1" --gate "http://127.0.0.1:$gate2" \
    --order-service "http://127.0.0.1:$orders" \
    --shoppers "$SHOPPERS" --rate "$RATE" --abandon "$ABANDON" --arrivals "$ARRIVALS" --claim-window "$CLAIM_WINDOW" \
    --server-pid "$gate1_pid" --server-pid "$gate2_pid" --out "$OUT" "$@"
