-- AdmissionModel.change: ops state changes. KEYS: state. ARGV: action (pause, resume, close, open), clock.
-- Returns {'changed', newState}, {'conflict', currentState} or {'missing'}.
-- Opening a scheduled room moves `opensAt` to now; the next tick draws the lottery.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
local action = ARGV[1]
local now = clock(ARGV[2])
local function become(s)
  redis.call('HSET', KEYS[1], 'state', s, 'lastTickMs', fmt(now))
  if s == 'open' and tonumber(redis.call('HGET', KEYS[1], 'openedAtMs') or '0') == 0 then
    redis.call('HSET', KEYS[1], 'openedAtMs', fmt(now))
  end
  return {'changed', s}
end
if action == 'close' then return become('closed') end
if action == 'pause' then
  if state == 'open' or state == 'paused' then return become('paused') end
  return {'conflict', state}
end
if action == 'resume' then
  if state == 'paused' or state == 'open' then return become('open') end
  return {'conflict', state}
end
if action == 'open' then
  if state == 'scheduled' then
    redis.call('HSET', KEYS[1], 'opensAt', fmt(now))
    return {'changed', 'scheduled'}
  end
  return become('open')
end
return {'conflict', state}
