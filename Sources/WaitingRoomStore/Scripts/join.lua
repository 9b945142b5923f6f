-- Group commit: hands out `n` consecutive places with one HINCRBY.
-- KEYS: state, arrivals. ARGV: n. Returns {'placed', firstSeq, state, epoch}, or {'missing'} / {'closed'}.
local st = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'lastArrivalMs')
if not st[1] then return {'missing'} end
if st[1] == 'closed' then return {'closed'} end
local n = tonumber(ARGV[1])
local tail = redis.call('HINCRBY', KEYS[1], 'tail', n)
local first = tail - n + 1
local now = clock('')
-- Arrival checkpoints, at most ten a second, give the oldest waiting shopper's age.
if now - tonumber(st[3] or '0') >= 100 then
  redis.call('ZADD', KEYS[2], first, fmt(first) .. ':' .. fmt(now))
  redis.call('HSET', KEYS[1], 'lastArrivalMs', fmt(now))
end
return {'placed', first, st[1], st[2]}
