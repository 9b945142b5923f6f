-- Creates, replaces, seeds or updates a room's settings.
-- KEYS: state, lottery secret (the registry is written by the store, outside: a script touches one room's slot only). ARGV: name, mode ('create': create or replace; 'seed': only if absent;
-- 'update': only if present), epoch, initial state, clock, the entry constants (burst ms, minimum rate,
-- horizon ms), a fresh lottery key and its commitment, then field/value pairs (every setting, from
-- RoomSettings.schema: the scripts need no defaults of their own).
-- A scheduled room with an opening time and no sealed draw yet is sealed here, in the same step: the key
-- goes to its own key (secret until opening), its commitment to the room hash (public). A sealed draw is
-- never re-drawn: moving the opening time keeps the commitment (README "A draw anyone can check").
-- Returns 'created', 'replaced' or 'untouched'.
-- A faster rate re-spaces the entries reserved ahead at once (AdmissionModel.settingsChanged).
local exists = redis.call('EXISTS', KEYS[1]) == 1
local mode = ARGV[2]
if mode == 'seed' and exists then return 'untouched' end
if mode == 'update' and not exists then return 'untouched' end
local now = clock(ARGV[5])
if not exists then
  local openedAt = '0'
  if ARGV[4] == 'open' then openedAt = fmt(now) end
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'tail', '0', 'head', '0', 'state', ARGV[4],
    'createdAtMs', fmt(now), 'lastTickMs', fmt(now), 'openedAtMs', openedAt, 'claims', '0',
    'releases', '0', 'lapsed', '0', 'offersLive', '0')
end
local rateFields = {'rate', 'rampSeconds', 'rampStartRate', 'openedAtMs', 'entryTatMs', 'autoTune', 'effectiveRate', 'minRate'}
local function rate_settings()
  local values = redis.call('HMGET', KEYS[1], unpack(rateFields))
  local r = {}
  for i, name in ipairs(rateFields) do r[name] = values[i] end
  return r
end
local old = rate_settings()
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local sealed = redis.call('HMGET', KEYS[1], 'state', 'opensAt', 'lotteryCommitment')
if sealed[1] == 'scheduled' and (tonumber(sealed[2]) or 0) > 0 and (sealed[3] == false or sealed[3] == '') then
  redis.call('SET', KEYS[2], ARGV[9])
  redis.call('HSET', KEYS[1], 'lotteryCommitment', ARGV[10])
end
if exists then
  local new = rate_settings()
  -- RoomSettings.carryingTuning: a rate (or autoTune) set by hand clears the tuner's rate at once.
  if tonumber(old['rate']) ~= tonumber(new['rate']) or old['autoTune'] ~= new['autoTune'] then
    redis.call('HDEL', KEYS[1], 'effectiveRate')
    new['effectiveRate'] = nil
  end
  respace(KEYS[1], old, new, now, entry_constants(6))
  return 'replaced'
end
return 'created'
