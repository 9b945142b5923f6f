#!/usr/bin/env bash
# The gate's proof-of-work verification cost, and one native (bot-grade) solve, at BITS (default 18).
#   scripts/pow-verify-cost.sh [BITS]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/pow-bench
mkdir -p "$OUT"
swiftc -O -parse-as-library -module-name PowBench -I Sources/COpenSSL -lcrypto \
    Sources/WaitingRoomTokens/*.swift Fuzz/bench/PowVerifyCost.swift -o "$OUT/pow-verify-cost" 2>"$OUT/build.log" \
    || { cat "$OUT/build.log" >&2; exit 1; }
"$OUT/pow-verify-cost" "${1:-18}"
