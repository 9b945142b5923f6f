#!/usr/bin/env bash
# Runs a command with a private, throwaway redis-server on a free loopback port (WAITROOM_REDIS_URL is set).
set -euo pipefail
dir=$(mktemp -d /tmp/waitroom-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
WAITROOM_REDIS_URL="redis://127.0.0.1:$port" "$@"
