-- AdmissionModel.change: ops state changes. KEYS: state, and optionally events and hook sets. ARGV: action
-- (pause, resume, close, open), clock, and with the events key who changed it (the event's `by`).
-- Returns {'changed', newState}, {'conflict', currentState} or {'missing'}.
-- Opening a scheduled room moves `opensAt` to now; the next tick reveals the lottery key sealed at scheduling.
-- A change is recorded as an event in the same step, so it goes to the hooks the room has at that moment.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
local action = ARGV[1]
local now = clock(ARGV[2])
local kinds = {pause = 'room.paused', resume = 'room.resumed', close = 'room.closed', open = 'room.opened'}
local function changed(s)
  if KEYS[2] then
    local data = cjson.encode({state = s, by = ARGV[3]})
    add_event(KEYS[2], KEYS[3], redis.call('HGET', KEYS[1], 'hooks'), kinds[action], now, data)
  end
  return {'changed', s}
end
local function become(s)
  redis.call('HSET', KEYS[1], 'state', s, 'lastTickMs', fmt(now))
  if s == 'open' and tonumber(redis.call('HGET', KEYS[1], 'openedAtMs') or '0') == 0 then
    redis.call('HSET', KEYS[1], 'openedAtMs', fmt(now))
  end
  return changed(s)
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
    return changed('scheduled')
  end
  return become('open')
end
return {'conflict', state}
