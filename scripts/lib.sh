# Shared by the scripts: free ports, a private redis-server, and cleanup of everything started.
# shellcheck shell=bash

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

started_pids=()
cleanup_started() {
    for pid in "${started_pids[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${redis_dir:-}" ]; then
        kill "$(cat "$redis_dir/redis.pid" 2>/dev/null)" 2>/dev/null || true
        [ "${keep_redis_dir:-}" = 1 ] || rm -rf "$redis_dir"
    fi
}
trap cleanup_started EXIT INT TERM

# start_redis DIR PORT [extra redis-server args]: append-only file on, own data directory; waits for PING.
start_redis() {
    redis_dir=$1; redis_port=$2; shift 2
    mkdir -p "$redis_dir"
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" --appendonly yes --save "" \
        --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" "$@"
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.1; done
    echo "redis did not start on port $redis_port" >&2; return 1
}

# wait_http URL: until it answers 2xx (10 s at most).
wait_http() {
    for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "no answer from $1" >&2; return 1
}

# make_test_certificates DIR: a throwaway CA (ca.pem) and a server certificate for localhost and 127.0.0.1
# (server.pem, server.key), for benchmarks and demos of a TLS Redis.
make_test_certificates() {
    local d=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=waitroom bench CA" \
        -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
        -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
}
