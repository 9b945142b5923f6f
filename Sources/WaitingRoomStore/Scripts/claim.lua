-- AdmissionModel.claim, transcribed line by line. Records an admission once per ticket.
-- KEYS: state, active, offers, offerClaims, admission. ARGV: effective position, new jti, epoch, clock, the
-- shopper's time in queue (ms, for the analytics' buckets; may be empty), how long to keep the admission
-- record at least (ms: a ticket's lifetime, so a ticket is never admitted twice), then the entry constants
-- (burst ms, minimum rate, horizon ms).
-- Returns {'admitted', 'jti|entersAtMs|expiresAtMs', now}, {'done', 'released'|'consumed'|'expired'} once the
-- admission ended, or {outcome}: waiting, expired, closed, foreign, missing.
local now = clock(ARGV[4])
local e = entry_constants(7)
local existing = redis.call('GET', KEYS[5])
if existing then
  local ended = string.match(existing, '^[^|]*|[^|]*|[^|]*|(%a+)$')
  if ended then return {'done', ended} end
  local jti, enters, expires = string.match(existing, '^([^|]*)|(%d+)|(%d+)$')
  if not expires then return {'admitted', existing, fmt(now)} end
  enters = tonumber(enters)
  expires = tonumber(expires)
  -- The session ran out: the place gave its admission (a session shorter than the claim window must not
  -- make it claimable again).
  if expires <= now then return {'done', 'expired'} end
  -- A faster rate re-spaced the entry schedule below this reservation: it enters by the schedule now.
  local by = math.max(entry_schedule(tonumber(redis.call('HGET', KEYS[1], 'entryTatMs')) or 0, now, e), now)
  if enters <= by then return {'admitted', existing, fmt(now)} end
  local entersAt = math.ceil(by)
  local ends = entersAt + (expires - enters)
  local value = jti .. '|' .. fmt(entersAt) .. '|' .. fmt(ends)
  redis.call('SET', KEYS[5], value, 'PX', fmt(math.max(ends - now, tonumber(ARGV[6]))))
  redis.call('ZADD', KEYS[2], 'XX', ends, jti)  -- a slot already released stays free
  return {'admitted', value, fmt(now)}
end
local r = {}
local names = {'head', 'claimWindowSeconds', 'sessionTTLSeconds', 'epoch', 'state', 'rate', 'rampSeconds', 'rampStartRate', 'openedAtMs', 'entryTatMs', 'autoTune', 'effectiveRate', 'minRate'}
local values = redis.call('HMGET', KEYS[1], unpack(names))
for i, name in ipairs(names) do r[name] = values[i] end
if not r['head'] then return {'missing'} end
if r['epoch'] ~= ARGV[3] then return {'foreign'} end
local pos = tonumber(ARGV[1])
if pos > tonumber(r['head']) then return {'waiting'} end
if r['state'] == 'closed' then return {'closed'} end
local b = redis.call('ZRANGEBYSCORE', KEYS[3], pos, '+inf', 'LIMIT', 0, 1)
if #b == 0 then return {'expired'} end
local h1, bt, size = string.match(b[1], '^(%d+):(%d+):(%d+)$')
if pos <= tonumber(h1) - tonumber(size) then return {'expired'} end
if tonumber(bt) + tonumber(r['claimWindowSeconds']) * 1000 < now then return {'expired'} end

-- The entry gate (GCRA): entries are spaced 1/rate apart, with a short burst allowed after a lull; the
-- schedule stays within the horizon, so every time stored is one Redis reads back.
local rate = ramped(r, tonumber(r['openedAtMs']) or 0, now)
local entersAt = now
if rate > 0 then
  local spacing = entry_spacing(rate, e)
  local tat = entry_schedule(tonumber(r['entryTatMs']) or 0, now, e)
  entersAt = math.max(now, tat - e.burst)
  redis.call('HSET', KEYS[1], 'entryTatMs', string.format('%.3f', math.min(math.max(tat, now) + spacing, now + e.horizon)))
end
entersAt = math.ceil(entersAt)
local expires = entersAt + tonumber(r['sessionTTLSeconds']) * 1000
local value = ARGV[2] .. '|' .. fmt(entersAt) .. '|' .. fmt(expires)
redis.call('SET', KEYS[5], value, 'PX', fmt(math.max(expires - now, tonumber(ARGV[6]))))
redis.call('ZADD', KEYS[2], expires, ARGV[2])
redis.call('HINCRBY', KEYS[4], h1, 1)
redis.call('HINCRBY', KEYS[1], 'offersLive', -1)
redis.call('HINCRBY', KEYS[1], 'claims', 1)
local waited = tonumber(ARGV[5])
if waited then redis.call('HINCRBY', KEYS[1], 'wait' .. wait_bucket(waited / 1000), 1) end
return {'admitted', value, fmt(now)}
