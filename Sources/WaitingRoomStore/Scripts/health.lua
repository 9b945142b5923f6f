-- Records checkout's health report (CheckoutHealth) in the room hash, dated by Redis's clock.
-- KEYS: state. ARGV: p95 ms, error ratio, in flight ('' when not given), clock.
-- Returns 1, or 0 for a missing room (nothing is created).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'healthP95Ms', ARGV[1], 'healthErrorRatio', ARGV[2], 'healthInFlight', ARGV[3], 'healthAtMs', fmt(clock(ARGV[4])))
return 1
