#!/usr/bin/env bash
# The Redis client's, the group committer's and the cluster suites (and the HMAC ticket suite) under a
# sanitizer (issue 19):
#   scripts/sanitizers/run.sh thread    # build folder .build-tsan
#   scripts/sanitizers/run.sh address   # build folder .build-asan
# The first build of each takes 10-30 minutes on 2 cores; builds and tests run at low CPU priority.
# Thread sanitizer: reports inside Mutex.withLock are the toolchain's, not races (see mutex-tsan.swift).
# Address sanitizer: leaks of XCTest and of the test Redis watchdogs are suppressed (lsan-suppressions.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
    thread) scratch=.build-tsan ;;
    address) scratch=.build-asan ;;
    *) echo "usage: $0 thread|address" >&2; exit 2 ;;
esac
filter='RedisClientTests|RedisResilienceTests|RedisTLSTests|RedisTopologyTests|JoinCommitterTests|GateClusterTests|TicketSignerTests'
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/sanitizers/lsan-suppressions.txt}"
nice -n 15 swift build --build-tests --sanitize="$1" --scratch-path "$scratch"
nice -n 15 swift test --skip-build --sanitize="$1" --scratch-path "$scratch" --no-parallel --filter "$filter"
