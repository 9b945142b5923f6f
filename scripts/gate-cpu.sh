#!/usr/bin/env bash
# The gate's own CPU per request (from /proc/<pid>/stat, so the load generator's share is not counted), for
# the capacity plan: hello, a waiting shopper's status poll, a join, a room board read and a waiting page load, each driven by wrk two ways —
#   saturating: 64 connections sending back to back (what `make bench-http` measures);
#   paced:      256 connections, each sending one request every PACED_MS (default 100 ms) — what a drop
#               looks like to a gate: many browsers, each polling now and then, so nothing is batched.
# Release build, one gate, its own Redis (no persistence). SECONDS_PER=8 by default. ROUTES picks what to
# measure; besides the defaults:
#   redirect  the shop's link /wait/gate-cpu: a redirect to the page in the shopper's language
#   missing   the page of a room that does not exist (/wait/no-such-room/en)
#   nojs      the page without JavaScript for a shopper in line (/wait/gate-cpu/en?js=0 with the ticket's cookie)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
release_gate_bench gate-cpu
port=$(free_port)
export WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" WAITROOM_HTTP_PORT=$port WAITROOM_LOG_LEVEL=error
export WAITROOM_ADMIN_KEY="gate-cpu-admin-key-0123456789" WAITROOM_TICKET_SECRET="gate-cpu-ticket-secret-0123"
export WAITROOM_TRUSTED_PROXIES="127.0.0.1/32"  # each join from an address of its own
(cd "$redis_dir" && exec "$bin/waitroom" serve) & gate=$!; started_pids+=($gate)
wait_http "http://127.0.0.1:$port/readyz"
base=http://127.0.0.1:$port
# rate 0: polls stay on the waiting path; the join limit off, so every join is a new place.
curl -fs -X PUT -H "Authorization: Bearer $WAITROOM_ADMIN_KEY" \
    -d '{"rate":0,"checkoutUrl":"https://shop.example/checkout","joinsPerClientPerMinute":0}' "$base/admin/v1/rooms/gate-cpu" >/dev/null
sleep 0.5
ticket=$(curl -fs -X POST "$base/v1/rooms/gate-cpu/join" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ticket"])')
scripts=$(mktemp -d /tmp/waitroom-gate-cpu-wrk.XXXXXX)
paced_ms=${PACED_MS:-100}
for mode in saturating paced; do
    delay=""; [ "$mode" = paced ] && delay="function delay() return $paced_ms end"
    printf '%s\n' "$delay" > "$scripts/hello-$mode.lua"
    # The board and the page: the same bytes for everyone, read without a ticket.
    for copy in board page static redirect missing; do cp "$scripts/hello-$mode.lua" "$scripts/$copy-$mode.lua"; done
    printf 'wrk.headers["Cookie"] = "wr_gate-cpu=%s"\n%s\n' "$ticket" "$delay" > "$scripts/nojs-$mode.lua"
    printf 'wrk.headers["Authorization"] = "Bearer %s"\n%s\n' "$ticket" "$delay" > "$scripts/status-$mode.lua"
    cat > "$scripts/join-$mode.lua" <<LUA
wrk.method = "POST"
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format()
end
$delay
LUA
done

# The baseline and the cache: Debian's nginx with the reference configuration in front of this gate.
#   nginx-static  a fixed answer from nginx itself (nginx's CPU)
#   nginx-board   the room board through nginx's microcache (nginx's and the gate's CPU together)
nginx_dir=$(mktemp -d /tmp/waitroom-gate-cpu-nginx.XXXXXX); chmod 777 "$nginx_dir"; nginx_port=$(free_port)
scripts/nginx-conf.py "$nginx_dir" "$nginx_port" "$port" --static >"$nginx_dir/nginx.conf"
/usr/sbin/nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -g 'daemon off;' & nginx=$!; started_pids+=($nginx)
wait_http "http://127.0.0.1:$nginx_port/static.json"

# CPU ticks of these processes (and their children: nginx's workers).
ticks() { for pid in "$@" $(pgrep -P "$1" || true); do awk '{print $14 + $15}' "/proc/$pid/stat"; done | awk '{s += $1} END {print s}'; }
hz=$(getconf CLK_TCK)
printf '%-8s %-11s %10s %10s %16s\n' route mode requests "req/s" "gate CPU µs/req"
for route in ${ROUTES:-hello status join board page nginx-static nginx-board}; do
    url=$base; pids=$gate
    case $route in
        hello) path=/healthz ;; status) path=/v1/rooms/gate-cpu/status ;; join) path=/v1/rooms/gate-cpu/join ;;
        board) path=/v1/rooms/gate-cpu/board ;; page) path=/wait/gate-cpu/en ;; redirect) path=/wait/gate-cpu ;;
        missing) path=/wait/no-such-room/en ;; nojs) path="/wait/gate-cpu/en?js=0" ;;
        nginx-static) url=http://127.0.0.1:$nginx_port; pids=$nginx; path=/static.json ;;
        nginx-board) url=http://127.0.0.1:$nginx_port; pids="$nginx $gate"; path=/v1/rooms/gate-cpu/board ;;
    esac
    for mode in saturating paced; do
        connections=64; [ "$mode" = paced ] && connections=256
        before=$(ticks $pids)
        out=$(wrk -t1 -c"$connections" -d"${SECONDS_PER:-8}s" -s "$scripts/${route#nginx-}-$mode.lua" "$url$path")
        after=$(ticks $pids)
        requests=$(echo "$out" | awk '/requests in/ {print $1}')
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        [ -z "$non2xx" ] || echo "  ($route $mode: $non2xx answers were not 2xx)"
        printf '%-8s %-11s %10s %10s %16.0f\n' "$route" "$mode" "$requests" "$rps" "$(python3 -c "print(($after - $before) / $hz * 1e6 / $requests)")"
    done
done
rm -rf "$scripts" "$nginx_dir"
