#!/usr/bin/env bash
# Drop-day connection check on one gate (issue 12):
#   1. with `ulimit -n` raised: N idle connections (default 10,000; half silent, half after one keep-alive
#      request) leave /healthz answering within a few ms, and all of them are closed after the idle timeout.
#      Latency and the gate's own CPU time per request are printed for /healthz on a kept-alive connection
#      and on a new connection each time. (Opening and closing a connection costs O(open connections) in
#      NIOExtras' ServerQuiescingHelper, which copies its channel dictionary on every change, and in the
#      Swift runtime's task-group child list: upstream, not the gate's code; see perf.)
#   2. with a low descriptor limit (256): a flood of connections is refused (503) beyond the derived cap,
#      the process survives, and it serves normally once the flood is gone.
#
#   scripts/idle-connections.sh [N]      BUILD=debug|release (default: debug, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

N=${1:-10000}
BUILD=${BUILD:-debug}
IDLE_MS=${IDLE_MS:-150000}
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
    python3 - "$port" "$N" "$IDLE_MS" "$gate_pid" <<'PY'
import os, socket, sys, time, statistics
port, n, idle_ms, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")

def cpu_ms():
    # The gate's user + system CPU time: unlike latency, it does not depend on what else the machine runs.
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / tick

def measure(count):
    before = cpu_ms()
    times = [healthz_ms() for _ in range(count)]
    return times, (cpu_ms() - before) / count

def measure_keepalive(count):
    # One kept-alive connection, as a load balancer's health check or a browser polls.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    before = cpu_ms()
    times = []
    for _ in range(count):
        t = time.perf_counter()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 200"), data[:80]
        times.append((time.perf_counter() - t) * 1000)
    s.close()
    return times, (cpu_ms() - before) / count

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

base, base_cpu = measure(300)
base_ka, base_ka_cpu = measure_keepalive(300)
t0 = time.perf_counter()
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    if i % 2:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
opened = time.perf_counter() - t0
# Read the keep-alive responses so those connections are idle, not mid-response.
for i, s in enumerate(socks):
    if i % 2:
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply[:120]
loaded, loaded_cpu = measure(300)
loaded_ka, loaded_ka_cpu = measure_keepalive(300)
def p(xs, q): return sorted(xs)[min(len(xs) - 1, int(len(xs) * q))]
print(f"opened {n} connections in {opened:.1f} s")
print(f"/healthz, keep-alive, without them: p50 {p(base_ka,.5):.2f} ms  p99 {p(base_ka,.99):.2f} ms  gate CPU {base_ka_cpu:.3f} ms/request")
print(f"/healthz, keep-alive, with {n} idle: p50 {p(loaded_ka,.5):.2f} ms  p99 {p(loaded_ka,.99):.2f} ms  max {max(loaded_ka):.2f} ms  gate CPU {loaded_ka_cpu:.3f} ms/request")
print(f"/healthz, new connection each, without them: p50 {p(base,.5):.2f} ms  p99 {p(base,.99):.2f} ms  gate CPU {base_cpu:.3f} ms/request")
print(f"/healthz, new connection each, with {n} idle: p50 {p(loaded,.5):.2f} ms  p99 {p(loaded,.99):.2f} ms  max {max(loaded):.2f} ms  gate CPU {loaded_cpu:.3f} ms/request")
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
wait = idle_ms / 1000
time.sleep(max(0, last_activity + wait - time.monotonic()))
# Closing 10,000 connections at once takes the gate a moment (each close is O(open connections) upstream).
while True:
    closed = count_closed()
    late = time.monotonic() - (last_activity + wait)
    if closed == n or late > 90: break
    time.sleep(1)
print(f"closed by the gate: {closed} of {n}, the last {late:.1f} s after the idle timeout ({idle_ms / 1000:.0f} s) of the last activity")
assert closed == n, "some idle connections were not closed"
assert p(loaded_ka, .5) < 20, "healthz slowed down"
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
