#!/usr/bin/env bash
# The rate that tunes itself (issue 22), measured: one drop three ways against a checkout that degrades for
# real (the example order service's capacity model: ORDER_SERVICE_CAPACITY orders at once, each
# ORDER_SERVICE_SERVICE_MS and up to twice that as it fills, 503 past ORDER_SERVICE_QUEUE_LIMIT waiting, and
# a slow spell of ORDER_SERVICE_SLOW_FACTOR× from ORDER_SERVICE_SLOW_AFTER s for ORDER_SERVICE_SLOW_FOR s):
#   high: auto-tune off, rate too high (HIGH_RATE);  low: auto-tune off, rate too low (LOW_RATE);
#   auto: auto-tune on, HIGH_RATE as the ceiling, MIN_RATE the floor, TARGET_MS the p95 to stay under.
# Each run's summary ends with checkout p95, errors, orders/min, median wait, and checkout per 10 s with the
# effective rate (how fast it backs off and recovers); reports in $OUT/{high,low,auto}/drop.json.
#   BUILD=release|debug (default release), SHOPPERS (1500), ARRIVALS (spike:0.8:20:40), MODES ("high low auto")
set -euo pipefail
cd "$(dirname "$0")/.."
export ORDER_SERVICE_CAPACITY=${ORDER_SERVICE_CAPACITY:-8}
export ORDER_SERVICE_SERVICE_MS=${ORDER_SERVICE_SERVICE_MS:-250}
export ORDER_SERVICE_QUEUE_LIMIT=${ORDER_SERVICE_QUEUE_LIMIT:-30}
export ORDER_SERVICE_SLOW_AFTER=${ORDER_SERVICE_SLOW_AFTER:-60}
export ORDER_SERVICE_SLOW_FOR=${ORDER_SERVICE_SLOW_FOR:-20}
export ORDER_SERVICE_SLOW_FACTOR=${ORDER_SERVICE_SLOW_FACTOR:-3}
export SHOPPERS=${SHOPPERS:-1500} ARRIVALS=${ARRIVALS:-spike:0.8:20:40} ABANDON=${ABANDON:-0.1} GATES=${GATES:-2}
HIGH_RATE=${HIGH_RATE:-40}; LOW_RATE=${LOW_RATE:-5}; MIN_RATE=${MIN_RATE:-2}; TARGET_MS=${TARGET_MS:-1500}
OUT=${OUT:-bench-results/autotune}
for mode in ${MODES:-high low auto}; do
    echo "== $mode"
    case $mode in
    high) RATE=$HIGH_RATE OUT=$OUT/high scripts/bench-drop.sh ;;
    low) RATE=$LOW_RATE OUT=$OUT/low scripts/bench-drop.sh ;;
    auto) RATE=$HIGH_RATE OUT=$OUT/auto scripts/bench-drop.sh --auto-tune --min-rate "$MIN_RATE" --target-latency-ms "$TARGET_MS" --max-error-ratio 0.02 ;;
    esac
done
