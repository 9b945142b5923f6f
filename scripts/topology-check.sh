#!/usr/bin/env bash
# `make run` and `waitroom bench drop` on each Redis URL form other than a single server: Sentinel
# (redis-sentinel://, a primary, a replica, three sentinels) and Cluster (redis-cluster://, three primaries).
# For each: `make run` comes up, serves the demo room's page, a join and a poll; then a small drop through two
# gates passes `bench drop --check` (no errors, FIFO held, someone admitted) and its report has Redis figures
# summed over every primary. BUILD=debug|release (default release: what ships; CI runs it on its release build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
build=${BUILD:-release}
out=${OUT:-.build/topology-check}
mkdir -p "$out"

check_make_run() {
    local kind=$1 port orders log=$out/make-run-$kind.log
    port=$(free_port); orders=$(free_port)
    # Its own process group, so everything `make run` started stops with it.
    BUILD=$build REDIS=$kind WAITROOM_HTTP_PORT=$port ORDER_SERVICE_PORT=$orders setsid make run >"$log" 2>&1 &
    run_group=$!
    # The banner comes once the gate answers /readyz.
    wait_until "make run REDIS=$kind" 1200 "grep -q 'Waiting page' '$log'" || { tail -20 "$log"; return 1; }
    grep -q "redis-$kind://" "$log" || { echo "make run REDIS=$kind did not use a $kind URL" >&2; tail -20 "$log"; return 1; }
    curl -fsL "http://127.0.0.1:$port/wait/demo" | grep -q '<html' || { echo "no waiting page" >&2; return 1; }
    local ticket
    ticket=$(curl -fs -X POST "http://127.0.0.1:$port/v1/rooms/demo/join" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"])')
    curl -fs -H "Authorization: Bearer $ticket" "http://127.0.0.1:$port/v1/rooms/demo/status" | grep -q '"state"' \
        || { echo "no status for the ticket" >&2; return 1; }
    echo "topology-check: make run REDIS=$kind serves the page, a join and a poll"
    stop_make_run
}

run_group=
stop_make_run() {
    [ -n "$run_group" ] || return 0
    kill -- -"$run_group" 2>/dev/null || true
    wait "$run_group" 2>/dev/null || true
    run_group=
}
trap 'stop_make_run; cleanup_started' EXIT INT TERM

check_bench_drop() {
    local kind=$1
    REDIS=$kind GATES=2 BUILD=$build SHOPPERS=${SHOPPERS:-600} RATE=30 ARRIVALS=spike:0.8:5:5 CLAIM_WINDOW=10 OUT="$out/drop-$kind" \
        scripts/bench-drop.sh --check > "$out/drop-$kind.log" 2>&1 || { tail -30 "$out/drop-$kind.log"; return 1; }
    python3 - "$out/drop-$kind/drop.json" "$kind" <<'PY'
import json, sys
report, kind = json.load(open(sys.argv[1])), sys.argv[2]
sampled = [s for s in report["samples"] if s.get("waiting") is not None and s.get("redisMemoryBytes")]
assert sampled, f"{kind}: the queue and Redis memory were never sampled"
assert (report.get("redisCommandsPerRequest") or 0) > 0.1, f"{kind}: Redis commands not counted: {report.get('redisCommandsPerRequest')}"
assert report["capacity"]["measuredGateCPUSeconds"] > 0, f"{kind}: no gate CPU"
print(f"topology-check: bench drop on {kind}: {report['joined']} joined, {report['admitted']} admitted, "
      f"{report['fifoViolations']} FIFO violations, entry rate {report.get('entryRate') or 0:.2f}/s against 30 "
      f"(worst 3 s {report.get('worstThreeSecondEntryRate') or 0:.2f}/s), {report['redisCommandsPerRequest']:.2f} Redis commands/request")
PY
}

for kind in ${KINDS:-sentinel cluster}; do
    check_make_run "$kind"
    check_bench_drop "$kind"
done
