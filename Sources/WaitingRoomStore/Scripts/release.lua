-- AdmissionModel.release: frees a checkout slot at once, and marks the ticket's admission ended so status
-- answers "done" and never hands the token out again.
-- KEYS: state, active, admission. ARGV: jti, how long to remember the end (ms).
-- Returns 1 the first time, 0 after.
local n = redis.call('ZREM', KEYS[2], ARGV[1])
if n == 1 then redis.call('HINCRBY', KEYS[1], 'releases', 1) end
end_admission(KEYS[3], ARGV[1], 'released', ARGV[2])
return n
