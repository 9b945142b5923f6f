#!/usr/bin/env bash
# The bot scenario: the same drop with the bot defences off, with the per-client limit, and with the limit
# plus proof of work. Honest shoppers join from addresses of their own; bots from BOT_CLIENTS addresses.
#   BUILD=debug|release  SHOPPERS (2000)  BOTS (5000)  BOT_CLIENTS (20)  POW_BITS (8)
# Figures per run: the bots' share of the first 1,000 places, honest shoppers' arrival→admission time.
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-debug} SHOPPERS=${SHOPPERS:-2000} RATE=${RATE:-100} ARRIVALS=${ARRIVALS:-spike:0.8:10:10} CLAIM_WINDOW=${CLAIM_WINDOW:-10}
bots=(--bots "${BOTS:-5000}" --bot-clients "${BOT_CLIENTS:-20}")
run() {
    local name=$1; shift
    OUT=.build/bots-$name scripts/bench-drop.sh "${bots[@]}" "$@" > ".build/bots-$name.log" 2>&1 || true
    echo "== $name ($*)"
    grep -E '^drop:|arrival→admission|bots:' ".build/bots-$name.log" || tail -5 ".build/bots-$name.log"
}
mkdir -p .build
run off --joins-per-client 0 --pow-bits 0
run limit --joins-per-client 60 --pow-bits 0
run limit-pow --joins-per-client 60 --pow-bits "${POW_BITS:-8}"
