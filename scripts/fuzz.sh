#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer via `swiftc -sanitize=fuzzer,address`) of the parsers that face the
# internet: queue tickets, admission JWTs, and the admin API's settings decoder; and the admission model
# under any settings the API accepts (rates, windows, TTLs, ramps) and any sequence of rate changes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   # SECONDS: total budget, split over the targets (default 60)
#
# The targets are compiled from the modules' own sources (Fuzz/FuzzTargets.swift says how), so no
# package build is needed. Corpora persist in .build/fuzz/corpus-<target>; a crash leaves
# .build/fuzz/crash-* (reproduce: FUZZ_TARGET=<target> .build/fuzz/fuzz <crash file>) and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(ticket jwt settings admission)
OUT=.build/fuzz
mkdir -p "$OUT"

SWIFTC=${SWIFTC:-swiftc}
if [ ! -x "$OUT/fuzz" ] || [ -n "$(find Sources/WaitingRoomCore Sources/WaitingRoomTokens Fuzz -newer "$OUT/fuzz" -name '*.swift' | head -1)" ]; then
    echo "fuzz: building (swiftc -sanitize=fuzzer,address)"
    build() { "$@" >>"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log" >&2; exit 1; }; }
    : >"$OUT/build.log"
    # Core is its own module (as in the package; the settings decoder is in it); the harness and the tokens form the other.
    build $SWIFTC -sanitize=fuzzer,address -O -parse-as-library -emit-module -emit-library -static \
        -module-name WaitingRoomCore -emit-module-path "$OUT/WaitingRoomCore.swiftmodule" \
        -o "$OUT/libWaitingRoomCore.a" Sources/WaitingRoomCore/*.swift
    build $SWIFTC -sanitize=fuzzer,address -O -parse-as-library -module-name WaitingRoomFuzz \
        -I "$OUT" -I Sources/COpenSSL -L "$OUT" -lWaitingRoomCore -lcrypto \
        Sources/WaitingRoomTokens/*.swift Fuzz/FuzzTargets.swift -o "$OUT/fuzz"
fi

per=$((BUDGET / ${#TARGETS[@]}))
((per >= 1)) || per=1
total_runs=0
status=0
for target in "${TARGETS[@]}"; do
    corpus="$OUT/corpus-$target"
    mkdir -p "$corpus"
    log="$OUT/$target.log"
    set +e
    # FUZZ_RUNS=N: a fixed number of executions from a fixed seed, so a CI run is repeatable.
    repeatable=()
    [ -n "${FUZZ_RUNS:-}" ] && repeatable=(-runs="$FUZZ_RUNS" -seed=1)
    FUZZ_TARGET=$target FUZZ_CORPUS="$corpus" "$OUT/fuzz" -max_total_time="$per" "${repeatable[@]}" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$OUT/crash-$target-" "$corpus" $( [ -d "Fuzz/seeds/$target" ] && echo "Fuzz/seeds/$target" ) >"$log" 2>&1
    rc=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    total_runs=$((total_runs + ${runs:-0}))
    if ((rc != 0)); then
        status=1
        echo "fuzz $target: FAILED after ${runs:-?} executions (exit $rc); see $log"
        grep -m5 -E "property failed|Fatal error|ERROR: AddressSanitizer|deadly signal|Test unit written" "$log" || true
    else
        echo "fuzz $target: ${runs} executions in ${per}s, 0 crashes, corpus $(ls "$corpus" | wc -l) inputs"
    fi
done
echo "fuzz: $total_runs executions in total"
exit $status
