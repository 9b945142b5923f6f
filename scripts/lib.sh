# Shared by the scripts: free ports, a private redis-server, and cleanup of everything started.
# shellcheck shell=bash

# The server binary: Debian's redis-server, or another build of it (WAITROOM_TEST_REDIS_SERVER, as the Swift
# tests take it: e.g. a valkey-server).
redis_server=${WAITROOM_TEST_REDIS_SERVER:-redis-server}

# build_products CONFIG PRODUCT...: builds the products (debug or release) and sets $bin to their folder.
# WAITROOM_SCRATCH_PATH names another build folder (swift build --scratch-path): CI builds release in
# .build-release beside the debug build in .build, so the two can run at once.
build_products() {
    local config=$1 product scratch=()
    shift
    [ -z "${WAITROOM_SCRATCH_PATH:-}" ] || scratch=(--scratch-path "$WAITROOM_SCRATCH_PATH")
    for product in "$@"; do swift build -c "$config" "${scratch[@]}" --product "$product"; done
    bin=$(swift build -c "$config" "${scratch[@]}" --show-bin-path)
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

started_pids=()
cleanup_started() {
    for pid in "${started_pids[@]:-}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for pidfile in "${redis_pidfiles[@]:-}"; do [ -z "$pidfile" ] || kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true; done
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
    "$redis_server" --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" --appendonly yes --save "" \
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

# start_redis_topology KIND DIR: a Redis of that kind on free loopback ports, data under DIR; sets
# redis_url (what the gates use) and redis_pidfiles (every server's pid file, stopped on exit).
#   single    one redis-server (append-only), redis://
#   sentinel  a primary, one replica and three sentinels (quorum 2), redis-sentinel://…/wr
#   cluster   three cluster primaries, slots split evenly, redis-cluster://
redis_pidfiles=()
start_redis_topology() {
    local kind=$1 dir=$2
    case "$kind" in
    single)
        start_redis "$dir" "$(free_port)"
        redis_url="redis://127.0.0.1:$redis_port" ;;
    sentinel)
        start_redis "$dir/primary" "$(free_port)"
        local primary=$redis_port replica sentinels=() port
        replica=$(free_port)
        start_node "$dir/replica" "$replica" --replicaof 127.0.0.1 "$primary"
        wait_until "replica online" 100 "[ \"\$(redis-cli -p $primary info replication | grep -c state=online)\" -ge 1 ]"
        for n in 1 2 3; do
            port=$(free_port); sentinels+=("127.0.0.1:$port")
            mkdir -p "$dir/sentinel$n"
            printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor wr 127.0.0.1 %s 2\nsentinel down-after-milliseconds wr 2000\nsentinel failover-timeout wr 10000\n' \
                "$port" "$dir/sentinel$n" "$primary" > "$dir/sentinel$n/sentinel.conf"
            "$redis_server" "$dir/sentinel$n/sentinel.conf" --sentinel --daemonize yes \
                --pidfile "$dir/sentinel$n/redis.pid" --logfile "$dir/sentinel$n/redis.log"
            redis_pidfiles+=("$dir/sentinel$n/redis.pid")
            wait_until "sentinel $n" 50 "redis-cli -p $port ping >/dev/null 2>&1"
        done
        redis_url="redis-sentinel://$(IFS=,; echo "${sentinels[*]}")/wr" ;;
    cluster)
        local ports=() n first last
        for n in 0 1 2; do
            ports+=("$(free_port)")
            start_node "$dir/node$n" "${ports[$n]}" --cluster-enabled yes --cluster-config-file nodes.conf \
                --cluster-node-timeout 3000 --cluster-port "$(free_port)"
        done
        for n in 0 1 2; do
            first=$((n * 16384 / 3)); last=$(((n + 1) * 16384 / 3 - 1))
            redis-cli -p "${ports[$n]}" cluster addslotsrange "$first" "$last" >/dev/null
            [ "$n" = 0 ] || redis-cli -p "${ports[$n]}" cluster meet 127.0.0.1 "${ports[0]}" \
                "$(redis-cli -p "${ports[0]}" config get cluster-port | tail -1)" >/dev/null
        done
        for port in "${ports[@]}"; do
            wait_until "cluster ok on $port" 200 "redis-cli -p $port cluster info | grep -q 'cluster_state:ok' && redis-cli -p $port cluster info | grep -q 'cluster_known_nodes:3'"
        done
        redis_port=${ports[0]}
        redis_url="redis-cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}" ;;
    *) echo "unknown Redis kind '$kind' (single, sentinel or cluster)" >&2; return 1 ;;
    esac
}

# start_node DIR PORT [args]: one more redis-server (no persistence), stopped on exit.
start_node() {
    local dir=$1 port=$2; shift 2
    mkdir -p "$dir"
    "$redis_server" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@"
    redis_pidfiles+=("$dir/redis.pid")
    wait_until "redis on $port" 50 "redis-cli -p $port ping >/dev/null 2>&1"
}

# wait_until WHAT TRIES CONDITION: evaluates CONDITION every 0.1 s, TRIES times at most.
wait_until() {
    local what=$1 tries=$2 condition=$3
    for _ in $(seq "$tries"); do eval "$condition" && return; sleep 0.1; done
    echo "timed out waiting for $what" >&2; return 1
}

# release_gate_bench NAME: what the wrk benchmarks share — dependencies and wrk installed, a release build
# of the gate ($bin; BENCH_BUILD=debug for a quick look at the debug one), and a private Redis without
# persistence (its port in $redis_port).
release_gate_bench() {
    scripts/install-deps.sh
    command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
    build_products "${BENCH_BUILD:-release}" waitroom
    start_redis "$(mktemp -d "/tmp/waitroom-$1.XXXXXX")" "$(free_port)" --appendonly no
}
