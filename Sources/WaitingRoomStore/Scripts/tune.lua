-- The rate tuner's two steps (RateController): one gate decides per interval, on Redis's clock, like the tick.
-- KEYS: state, events, hook sets.
-- 'begin' ARGV: 'begin', interval ms, clock. Takes the room's interval when it is due (an open room with
-- autoTune, its last decision at least an interval ago): returns {'decide', now, field, value, ...} with the
-- room hash; otherwise {'off'} (not auto-tuned or not open), {'busy'} (another gate has this interval) or
-- {'missing'}.
-- 'apply' ARGV: 'apply', the `now` begin returned (the interval's fence), clock, the rate the decision was
-- made under, the effective rate it read ('' for none), the new effective rate, reason, memory, the event's
-- data ('' for no event), then the entry constants (burst ms, minimum rate, horizon ms). Writes the decision unless ops changed the rate (or autoTune) since, or another
-- gate took a later interval: returns 'applied' or 'stale'. A faster rate re-spaces the entries reserved
-- ahead, as a rate set by hand does (AdmissionModel.settingsChanged).
local now = clock(ARGV[3])
if ARGV[1] == 'begin' then
  local raw = redis.call('HGETALL', KEYS[1])
  if #raw == 0 then return {'missing'} end
  local r = {}
  for i = 1, #raw, 2 do r[raw[i]] = raw[i + 1] end
  if r['autoTune'] ~= '1' or r['state'] ~= 'open' then return {'off'} end
  local last = tonumber(r['tuneAtMs']) or 0
  if last <= now and now - last < tonumber(ARGV[2]) then return {'busy'} end
  redis.call('HSET', KEYS[1], 'tuneAtMs', fmt(now))
  local out = {'decide', fmt(now)}
  for i = 1, #raw do out[#out + 1] = raw[i] end
  return out
end

local rateFields = {'rate', 'rampSeconds', 'rampStartRate', 'openedAtMs', 'entryTatMs', 'autoTune', 'effectiveRate', 'minRate', 'tuneAtMs', 'hooks'}
local values = redis.call('HMGET', KEYS[1], unpack(rateFields))
local old = {}
for i, name in ipairs(rateFields) do old[name] = values[i] end
if old['tuneAtMs'] ~= ARGV[2] or old['autoTune'] ~= '1' then return 'stale' end
if tonumber(old['rate'] or '') ~= tonumber(ARGV[4]) or tonumber(old['effectiveRate'] or '') ~= tonumber(ARGV[5]) then return 'stale' end
redis.call('HSET', KEYS[1], 'effectiveRate', ARGV[6], 'rateReason', ARGV[7], 'tuneMemory', ARGV[8])
if tonumber(ARGV[6]) ~= tonumber(ARGV[5]) then redis.call('HSET', KEYS[1], 'rateTunedAtMs', fmt(now)) end
local new = {}
for k, v in pairs(old) do new[k] = v end
new['effectiveRate'] = ARGV[6]
respace(KEYS[1], old, new, now, entry_constants(10))
if ARGV[9] ~= '' then add_event(KEYS[2], KEYS[3], old['hooks'], 'room.rate_tuned', now, ARGV[9]) end
return 'applied'
