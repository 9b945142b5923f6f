#!/usr/bin/env bash
# `make run`: install what is missing, start a private Redis (own port and data directory, append-only file
# on), the example order service, and the gate; print the waiting-page URL of the demo room. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product waitroom
swift build --product example-order-service
bin=$(swift build --show-bin-path)

run=$PWD/.run
mkdir -p "$run/redis"
redis_port=${WAITROOM_DEV_REDIS_PORT:-6390}
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run/redis" --appendonly yes --save "" \
    --daemonize yes --pidfile "$run/redis/redis.pid" --logfile "$run/redis/redis.log"
pids=()
cleanup() {
    for pid in "${pids[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    kill "$(cat "$run/redis/redis.pid" 2>/dev/null)" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# Development secrets, kept in .run/ so a restart keeps everyone's tickets and tokens valid.
[ -f "$run/signing.pem" ] || "$bin/waitroom" keys generate --out "$run/signing.pem" >/dev/null
[ -f "$run/ticket-secret" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' > "$run/ticket-secret"
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port"
export WAITROOM_SIGNING_KEY_FILE="$run/signing.pem"
export WAITROOM_TICKET_SECRET="$(cat "$run/ticket-secret")"
export WAITROOM_ADMIN_KEY="${WAITROOM_ADMIN_KEY:-dev-admin-key-0123456789}"
export WAITROOM_SERVICE_KEY="${WAITROOM_SERVICE_KEY:-dev-service-key-0123456789}"
port="${WAITROOM_HTTP_PORT:-8080}"

if [ -x "$bin/example-order-service" ]; then
    ORDER_SERVICE_PORT=8081 WAITROOM_URL="http://127.0.0.1:$port" "$bin/example-order-service" &
    pids+=($!)
fi
"$bin/waitroom" serve &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
cat <<MSG

  Waiting page (demo room):  http://127.0.0.1:$port/wait/demo
  Ops dashboard:             http://127.0.0.1:$port/admin/dashboard   (admin key: $WAITROOM_ADMIN_KEY)
  Metrics:                   http://127.0.0.1:$port/metrics
  Redis:                     $WAITROOM_REDIS_URL (data in .run/redis)

MSG
wait "${pids[@]}"
