#!/usr/bin/env bash
# Drop-day connection check on one gate (issue 12):
#   1. with `ulimit -n` raised: N idle connections (default 10,000; half silent, half after one keep-alive
#      request) leave /healthz answering within a few ms, and all of them are closed after the idle timeout;
#   2. with a low descriptor limit (256): a flood of connections is refused (503) beyond the derived cap,
#      the process survives, and it serves normally once the flood is gone.
#
#   scripts/idle-connections.sh [N]      BUILD=debug|release (default: debug, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

N=${1:-10000}
BUILD=${BUILD:-debug}
IDLE_MS=${IDLE_MS:-60000}
BIN=.build/$BUILD/waitroom
[ -x "$BIN" ] || swift build -c "$BUILD" --product waitroom
start_redis "$(mktemp -d /tmp/waitroom-redis.XXXXXX)" "$(free_port)" --appendonly no

# The gate derives its connection cap as limit - 64 - 10%: give it room for N plus that reserve.
need=$((N * 6 / 5 + 300))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && ((hard < need)); then
    echo "the hard descriptor limit ($hard) is below $need: lower N or raise it" >&2
    exit 1
fi

start_gate() { # start_gate DESCRIPTOR_LIMIT PORT
    local limit=$1 port=$2
    (
        ulimit -n "$limit"
        WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" WAITROOM_HTTP_PORT=$port WAITROOM_HTTP_IDLE_TIMEOUT_MS=$IDLE_MS \
            WAITROOM_LOG_LEVEL=error exec "$BIN" serve
    ) >"/tmp/idle-gate-$port.log" 2>&1 &
    gate_pid=$!
    started_pids+=("$gate_pid")
    wait_http "http://127.0.0.1:$port/healthz"
}

echo "== 1. $N idle connections, ulimit -n $need, idle timeout ${IDLE_MS} ms"
port=$(free_port)
start_gate "$need" "$port"
(
    ulimit -n "$need"
    python3 - "$port" "$N" "$IDLE_MS" <<'PY'
import socket, sys, time, statistics
port, n, idle_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def healthz_ms():
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
    return (time.perf_counter() - t) * 1000

base = [healthz_ms() for _ in range(50)]
t0 = time.perf_counter()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i % 2:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
opened = time.perf_counter() - t0
# Read the keep-alive responses so those connections are idle, not mid-response.
for i, s in enumerate(socks):
    if i % 2:
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:120]
loaded = [healthz_ms() for _ in range(200)]
def p(xs, q): return sorted(xs)[min(len(xs) - 1, int(len(xs) * q))]
print(f"opened {n} connections in {opened:.1f} s")
print(f"/healthz without them: p50 {p(base,.5):.2f} ms  p99 {p(base,.99):.2f} ms")
print(f"/healthz with {n} idle: p50 {p(loaded,.5):.2f} ms  p99 {p(loaded,.99):.2f} ms  max {max(loaded):.2f} ms")
last_activity = time.monotonic()
for s in socks: s.setblocking(False)
def count_closed():
    closed = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK) == b"": closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed
print(f"still open {time.monotonic() - t0:.0f} s after the first was opened: {n - count_closed()} of {n}")
wait = idle_ms / 1000 + 3
time.sleep(max(0, last_activity + wait - time.monotonic()))
closed = count_closed()
print(f"closed by the gate {wait:.0f} s after the last activity (idle timeout {idle_ms / 1000:.0f} s): {closed} of {n}")
assert closed == n, "some idle connections were not closed"
assert p(loaded, .99) < 50, "healthz slowed down"
PY
)
kill "$gate_pid"; wait "$gate_pid" 2>/dev/null || true

echo "== 2. low descriptor limit (ulimit -n 256): a flood of 1,000 connections"
port=$(free_port)
start_gate 256 "$port"
python3 - "$port" "$gate_pid" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
socks, refused, errors, closed_early, timeouts = [], 0, 0, 0, 0
for i in range(1000):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        socks.append(s)
    except OSError:
        errors += 1
time.sleep(0.5)
# Ask on every connection; accepted ones answer 200, refused ones got an immediate 503 and were closed.
ok = 0
for s in socks:
    try:
        s.settimeout(2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(4096)
        if data.startswith(b"HTTP/1.1 200"): ok += 1
        elif data.startswith(b"HTTP/1.1 503"): refused += 1
        elif data == b"": closed_early += 1
        else: errors += 1
    except socket.timeout:
        timeouts += 1
    except (ConnectionResetError, BrokenPipeError):
        closed_early += 1
    except OSError:
        errors += 1
os.kill(pid, 0)  # raises if the gate died
print(f"flood: {ok} served, {refused} refused with 503, {closed_early} refused and already closed, "
      f"{timeouts} timed out, {errors} other errors; gate alive")
for s in socks: s.close()
deadline = time.time() + 10
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if s.recv(4096).startswith(b"HTTP/1.1 200"):
            print(f"recovered: /healthz 200 {10 - (deadline - time.time()):.2f} s after the flood closed")
            break
    except OSError:
        pass
    assert time.time() < deadline, "did not recover"
    time.sleep(0.1)
PY
kill -0 "$gate_pid" && echo "gate still running: OK"
