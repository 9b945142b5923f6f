#!/usr/bin/env bash
# `waitroom bench http` against a release gate with its own Redis: hello vs status vs join, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
swift build -c release --product waitroom
bin=$(swift build -c release --show-bin-path)
start_redis "$(mktemp -d /tmp/waitroom-bench-http.XXXXXX)" "$(free_port)" --appendonly no
port=$(free_port)
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" WAITROOM_HTTP_PORT=$port WAITROOM_LOG_LEVEL=error
export WAITROOM_ADMIN_KEY="bench-http-admin-key-0123456789" WAITROOM_TICKET_SECRET="bench-http-ticket-secret-0123"
export WAITROOM_TRUSTED_PROXIES="127.0.0.1/32"  # wrk sends each join from an address of its own
(cd "$redis_dir" && exec "$bin/waitroom" serve) & started_pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"
"$bin/waitroom" bench http --url "http://127.0.0.1:$port" "$@"
