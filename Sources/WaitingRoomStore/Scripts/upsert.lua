-- Creates, replaces, seeds or updates a room's settings.
-- KEYS: state (the registry is written by the store, outside: a script touches one room's slot only). ARGV: name, mode ('create': create or replace; 'seed': only if absent;
-- 'update': only if present), epoch, initial state, clock, then field/value pairs (every setting, from
-- RoomSettings.schema: the scripts need no defaults of their own).
-- Returns 'created', 'replaced' or 'untouched'.
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
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if exists then return 'replaced' end
return 'created'
