-- Group commit: hands out `n` consecutive places with one HINCRBY.
-- KEYS: state, arrivals. ARGV: n. Returns {'placed', firstSeq, state, epoch}, or {'missing'} / {'closed'}.
local st = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'lastArrivalMs')
if not st[1] then return {'missing'} end
if st[1] == 'closed' then return {'closed'} end
local n = tonumber(ARGV[1])
local tail = redis.call('HINCRBY', KEYS[1], 'tail', n)
local first = tail - n + 1
record_arrival(KEYS[1], KEYS[2], first, st[3])
return {'placed', first, st[1], st[2]}
