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
local rateFields = {'rate', 'rampSeconds', 'rampStartRate', 'openedAtMs', 'entryTatMs'}
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
  local e = entry_constants(6)
  local openedAt = tonumber(new['openedAtMs']) or 0
  local before = ramped(old, openedAt, now)
  local after = ramped(new, openedAt, now)
  local tat = entry_schedule(tonumber(new['entryTatMs']) or 0, now, e)
  if after > before and tat > now then
    local ratio = 0
    if before > 0 then ratio = entry_spacing(after, e) / entry_spacing(before, e) end
    redis.call('HSET', KEYS[1], 'entryTatMs', string.format('%.3f', now + (tat - now) * ratio))
  end
  return 'replaced'
end
return 'created'
