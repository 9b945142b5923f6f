#!/usr/bin/env bash
# Runs a command with a private, throwaway redis-server on a free loopback port (WAITROOM_REDIS_URL is set).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
start_redis "$(mktemp -d /tmp/waitroom-redis.XXXXXX)" "$(free_port)" --appendonly no
WAITROOM_REDIS_URL="redis://127.0.0.1:$redis_port" "$@"
