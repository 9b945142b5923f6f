#!/usr/bin/env bash
# `waitroom bench redis` twice against one private redis-server: plain TCP, then TLS (certificates made here
# with openssl, verified by the client like any rediss:// endpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d /tmp/waitroom-bench-redis.XXXXXX)
make_test_certificates "$dir"
tls_port=$(free_port)
start_redis "$dir" "$(free_port)" --appendonly no --tls-port "$tls_port" \
    --tls-cert-file "$dir/server.pem" --tls-key-file "$dir/server.key" --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no
"$bin/waitroom" bench redis --redis-url "redis://127.0.0.1:$redis_port" "$@"
"$bin/waitroom" bench redis --redis-url "rediss://127.0.0.1:$tls_port" --tls-ca-file "$dir/ca.pem" "$@"
