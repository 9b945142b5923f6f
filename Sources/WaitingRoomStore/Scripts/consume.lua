-- Single use of an admission token: the first consume wins; a released admission cannot be consumed.
-- KEYS: used, admission, state. ARGV: jti, token expiry (unix ms), how long to remember the end (ms).
-- Returns {'consumed'} the first time, {'used'} after, {'released'} when the checkout was released.
if admission_end(KEYS[2], ARGV[1]) == 'released' then return {'released'} end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[2]) then return {'used'} end
end_admission(KEYS[2], ARGV[1], 'consumed', ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'consumed', 1) end
return {'consumed'}
