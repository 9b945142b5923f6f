#!/usr/bin/env bash
# `waitroom bench http` against a release gate with its own Redis: hello vs status vs join, in one run.
# MIN_REPLICAS=1 scripts/bench-http.sh: a replica too, and two gates on that Redis measured one after the
# other in the same run — WAITROOM_REDIS_MIN_REPLICAS=0, then 1 (joins promised only after WAIT) — so
# their join ÷ hello ratios compare on the same machine state.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
release_gate_bench bench-http
# MIN_REPLICAS=n: n replicas of that Redis, and the gate promises a join or claim only once WAIT saw it on n.
for n in $(seq "${MIN_REPLICAS:-0}"); do
    start_node "$redis_dir/replica$n" "$(free_port)" --replicaof 127.0.0.1 "$redis_port"
done
if [ "${MIN_REPLICAS:-0}" -gt 0 ]; then
    wait_until "replicas online" 100 "[ \"\$(redis-cli -p $redis_port info replication | grep -c state=online)\" -ge $MIN_REPLICAS ]"
    echo "bench-http: $MIN_REPLICAS replica(s); gates with WAITROOM_REDIS_MIN_REPLICAS=0 and =$MIN_REPLICAS"
fi
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" WAITROOM_LOG_LEVEL=error
export WAITROOM_ADMIN_KEY="bench-http-admin-key-0123456789" WAITROOM_TICKET_SECRET="bench-http-ticket-secret-0123"
export WAITROOM_TRUSTED_PROXIES="127.0.0.1/32"  # wrk sends each join from an address of its own
settings=0
[ "${MIN_REPLICAS:-0}" -gt 0 ] && settings="0 $MIN_REPLICAS"
for min_replicas in $settings; do
    port=$(free_port)
    (cd "$redis_dir" && WAITROOM_HTTP_PORT=$port WAITROOM_REDIS_MIN_REPLICAS=$min_replicas exec "$bin/waitroom" serve) & gate=$!
    started_pids+=($gate)
    wait_http "http://127.0.0.1:$port/readyz"
    echo "== WAITROOM_REDIS_MIN_REPLICAS=$min_replicas"
    "$bin/waitroom" bench http --url "http://127.0.0.1:$port" "$@"
    kill "$gate"; wait "$gate" 2>/dev/null || true
done
