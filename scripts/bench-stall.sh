#!/usr/bin/env bash
# A stalled Redis under a release gate. Joins arrive every 100 ms; Redis is frozen (SIGSTOP) for STALL
# seconds (default 8), then thawed (SIGCONT). Prints the slowest and median time for a join to get its 503
# during the stall, and the time from SIGCONT to the first 200. TIMEOUT_MS sets the gate's command timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh
build_products release waitroom
dir=$(mktemp -d /tmp/waitroom-bench-stall.XXXXXX)
start_redis "$dir" "$(free_port)" --appendonly no
port=$(free_port)
printf 'rooms:\n  stall:\n    rate: 0\n    checkoutUrl: https://shop.example/checkout\n' > "$dir/rooms.yaml"
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" WAITROOM_HTTP_PORT=$port WAITROOM_LOG_LEVEL=critical
export WAITROOM_REDIS_TIMEOUT_MS=${TIMEOUT_MS:-2000} WAITROOM_ROOMS_FILE="$dir/rooms.yaml"
export WAITROOM_TICKET_SECRET="bench-stall-ticket-secret-0123"
(cd "$dir" && exec "$bin/waitroom" serve) & started_pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"
python3 - "http://127.0.0.1:$port/v1/rooms/stall/join" "$(cat "$dir/redis.pid")" "${STALL:-8}" "$WAITROOM_REDIS_TIMEOUT_MS" <<'PY'
import os, signal, statistics, sys, threading, time, urllib.request, urllib.error
url, pid, stall, timeout_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
results, lock = [], threading.Lock()
def join():
    started = time.monotonic()
    try:
        status = urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = 0
    with lock: results.append((started, time.monotonic() - started, status))
threads = []
def fire_until(end):
    while time.monotonic() < end:
        t = threading.Thread(target=join); t.start(); threads.append(t); time.sleep(0.1)
fire_until(time.monotonic() + 1)
stopped = time.monotonic(); os.kill(pid, signal.SIGSTOP)
fire_until(stopped + stall)
resumed = time.monotonic(); os.kill(pid, signal.SIGCONT)
fire_until(resumed + 3)
for t in threads: t.join()
during = [r for r in results if stopped <= r[0] < resumed]
to503 = [r[1] for r in during if r[2] == 503]
other = [r[2] for r in during if r[2] != 503]
recovered = min((r[0] + r[1] for r in results if r[0] >= resumed - 3 and r[2] == 200 and r[0] + r[1] > resumed), default=None)
print(f"stall {stall:.0f} s, command timeout {timeout_ms} ms, joins every 100 ms")
print(f"  joins started during the stall: {len(during)}, answered 503: {len(to503)}, other statuses: {sorted(set(other))}")
if to503:
    print(f"  time to 503: median {statistics.median(to503)*1000:.0f} ms, slowest {max(to503)*1000:.0f} ms")
print(f"  first 200 after SIGCONT: {'none' if recovered is None else f'{(recovered - resumed)*1000:.0f} ms'}")
PY
