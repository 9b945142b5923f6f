-- One place per join-pass holder: the first join of a customer's ticket id takes a place at the back;
-- every later join (another device, a reload) gets the same place back.
-- KEYS: state, arrivals, pass. ARGV: how long the place is remembered (ms).
-- Returns {'placed', seq, state, epoch} or {'missing'} / {'closed'}.
local st = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'lastArrivalMs')
if not st[1] then return {'missing'} end
local held = redis.call('GET', KEYS[3])
if held then
  local epoch, seq = string.match(held, '^([^|]+)|(%d+)$')
  if epoch == st[2] then return {'placed', seq, st[1], st[2]} end
end
if st[1] == 'closed' then return {'closed'} end
local tail = redis.call('HINCRBY', KEYS[1], 'tail', 1)
record_arrival(KEYS[1], KEYS[2], tail, st[3])
redis.call('SET', KEYS[3], st[2] .. '|' .. fmt(tail), 'PX', ARGV[1])
return {'placed', tail, st[1], st[2]}
