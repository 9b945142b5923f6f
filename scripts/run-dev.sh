#!/usr/bin/env bash
# `make run`: install what is missing, start a private Redis (own port and data directory, append-only file
# on), the example order service, and the gate; print the waiting-page URL of the demo room. Ctrl-C stops all.
#   make run REDIS=sentinel   a primary, a replica and three sentinels; the gate uses redis-sentinel://
#   make run REDIS=cluster    three cluster primaries; the gate uses redis-cluster://
#   WAITROOM_REDIS_URL=… make run   your own Redis (any URL form): nothing is started for it
#   BUILD=release make run          the release build (what ships; CI's topology check runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
source scripts/lib.sh
build_products "${BUILD:-debug}" waitroom example-order-service
run=$PWD/.run
if [ -n "${WAITROOM_REDIS_URL:-}" ]; then
    redis_url=$WAITROOM_REDIS_URL
    redis_where="your Redis"
elif [ "${REDIS:-single}" = single ]; then
    keep_redis_dir=1  # the dev queue survives restarts (append-only file in .run/redis)
    start_redis "$run/redis" "${WAITROOM_DEV_REDIS_PORT:-6390}"
    redis_url="redis://127.0.0.1:$redis_port"
    redis_where="data in .run/redis"
else
    rm -rf "$run/redis-$REDIS"  # a fresh topology each time: its servers keep no data
    start_redis_topology "$REDIS" "$run/redis-$REDIS"
    redis_where="$REDIS on loopback, stopped with the gate"
fi

# Development secrets, kept in .run/ so a restart keeps everyone's tickets and tokens valid.
[ -f "$run/signing.pem" ] || "$bin/waitroom" keys generate --out "$run/signing.pem" >/dev/null
[ -f "$run/ticket-secret" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > "$run/ticket-secret"
export WAITROOM_REDIS_URL="$redis_url"
export WAITROOM_SIGNING_KEY_FILE="$run/signing.pem"
export WAITROOM_TICKET_SECRET="$(cat "$run/ticket-secret")"
export WAITROOM_ADMIN_KEY="${WAITROOM_ADMIN_KEY:-dev-admin-key-0123456789}"
export WAITROOM_SERVICE_KEY="${WAITROOM_SERVICE_KEY:-dev-service-key-0123456789}"
port="${WAITROOM_HTTP_PORT:-8080}"

ORDER_SERVICE_PORT=${ORDER_SERVICE_PORT:-8081} WAITROOM_URL="http://127.0.0.1:$port" "$bin/example-order-service" & started_pids+=($!)
"$bin/waitroom" serve & started_pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"
cat <<MSG

  Waiting page (demo room):  http://127.0.0.1:$port/wait/demo
  Ops dashboard:             http://127.0.0.1:$port/admin/dashboard   (admin key: $WAITROOM_ADMIN_KEY)
  Metrics:                   http://127.0.0.1:$port/metrics
  Redis:                     $WAITROOM_REDIS_URL ($redis_where)

MSG
wait "${started_pids[@]}"
