-- AdmissionModel.release: frees a checkout slot at once. KEYS: state, active. ARGV: jti.
-- Returns 1 the first time, 0 after.
local n = redis.call('ZREM', KEYS[2], ARGV[1])
if n == 1 then redis.call('HINCRBY', KEYS[1], 'releases', 1) end
return n
