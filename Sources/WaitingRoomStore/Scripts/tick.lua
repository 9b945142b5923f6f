-- AdmissionModel.tick, transcribed line by line (Sources/WaitingRoomCore/AdmissionModel.swift); a Store
-- test replays randomized scenarios through both and compares the state after every step.
-- KEYS: state, active, offers, offerClaims, arrivals, seconds series, minutes series, events, hook sets,
-- lottery secret, history.
-- ARGV: a fresh lottery key (used only at opening when no draw was sealed), clock.
-- Returns the room hash's fields plus `now`, `active` and `oldestJoinMs`; false for a missing room.
local now = clock(ARGV[2])
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then return false end
local r = {}
for i = 1, #raw, 2 do r[raw[i]] = raw[i + 1] end
local function num(k, d) local v = tonumber(r[k]); if v == nil then return d end; return v end

-- Events for hooks and the warehouse stream (see RoomEvent): appended here when the tick itself changes
-- something, so exactly one gate emits each.
local function event(kind, data)
  add_event(KEYS[8], KEYS[9], r['hooks'], kind, now, cjson.encode(data))
end
local hooks = {}
if r['hooks'] and r['hooks'] ~= '' then
  local ok, decoded = pcall(cjson.decode, r['hooks'])
  if ok and type(decoded) == 'table' then hooks = decoded end
end

local state = r['state']
local tail = num('tail', 0)
local head = num('head', 0)
local elapsed = now - num('lastTickMs', now)
if elapsed < 0 then elapsed = 0 end
if elapsed > 1000 then elapsed = 1000 end

-- A scheduled room opens here: the pre-queue is frozen and its lottery key revealed (the key sealed when
-- the room got its opening time; a fresh one for a room that has none), with the beacon as it is now.
local openedAt = num('openedAtMs', 0)
local opensAt = num('opensAt', 0)
if state == 'scheduled' and opensAt > 0 and now >= opensAt then
  state = 'open'
  openedAt = now
  local key = redis.call('GET', KEYS[10])
  if not key then key = ARGV[1] end
  r['prequeue'] = fmt(tail)
  r['lotteryKey'] = key
  r['lotteryBeaconUsed'] = r['lotteryBeacon'] or ''
  redis.call('HSET', KEYS[1], 'prequeue', r['prequeue'], 'lotteryKey', key, 'lotteryBeaconUsed', r['lotteryBeaconUsed'])
  redis.call('DEL', KEYS[10])
  event('room.opened', {reason = 'scheduled', prequeue = tail, lotteryCommitment = r['lotteryCommitment'] or '',
    lotteryKey = key, lotteryBeacon = r['lotteryBeaconUsed']})
end
-- What this drop looked like two minutes in, for the next drop's pre-scale recommendation.
if openedAt > 0 and now >= openedAt + 120000 and r['historyAt'] ~= fmt(openedAt) then
  r['historyAt'] = fmt(openedAt)
  redis.call('HSET', KEYS[1], 'historyAt', r['historyAt'])
  redis.call('HSET', KEYS[11], 'openedAtMs', fmt(openedAt), 'prequeue', fmt(num('prequeue', 0)), 'arrivals2m', fmt(tail - num('prequeue', 0)))
end
-- The pre-scale signal: each hook's leads before a scheduled opening, once per opening time, as
-- `room.opening_soon` and `room.prescale`, with what the recommendation is computed from (PrescalePlan.Inputs:
-- the gate delivering it adds the recommendation): the pre-queue now, its growth since the last signal (or
-- since the room was created), the admission settings and the room's previous drop, if any.
if state == 'scheduled' and opensAt > now then
  local signal = nil
  for _, hook in ipairs(hooks) do
    if type(hook.leads) == 'table' then
      for _, lead in ipairs(hook.leads) do
        local field = 'soon:' .. tostring(lead)
        if opensAt - now <= lead * 1000 and r[field] ~= fmt(opensAt) then
          r[field] = fmt(opensAt)
          redis.call('HSET', KEYS[1], field, r[field])
          if signal == nil then
            -- Growth over at least a minute (a few seconds of joins say nothing about the next half hour).
            local sinceMs = now - num('createdAtMs', now)
            local growth = 0
            if num('prescaleAtMs', 0) > 0 and now - num('prescaleAtMs', 0) >= 60000 then
              growth = (tail - num('prescaleTail', 0)) * 1000 / (now - num('prescaleAtMs', 0))
            elseif sinceMs >= 60000 then
              growth = tail * 1000 / sinceMs
            end
            local previous = redis.call('HMGET', KEYS[11], 'prequeue', 'arrivals2m')
            signal = {opensAt = opensAt, waiting = tail, growthPerSecond = tonumber(string.format('%.3f', growth)),
              rate = num('rate', 0), rampSeconds = num('rampSeconds', 0), claimWindowSeconds = num('claimWindowSeconds', 60),
              sessionTTLSeconds = num('sessionTTLSeconds', 900), previousPrequeue = tonumber(previous[1] or '-1') or -1,
              previousArrivals2m = tonumber(previous[2] or '-1') or -1}
            redis.call('HSET', KEYS[1], 'prescaleTail', fmt(tail), 'prescaleAtMs', fmt(now))
          end
          signal.leadSeconds = lead
          event('room.opening_soon', signal)
          event('room.prescale', signal)
        end
      end
    end
  end
end

-- Offers older than the claim window lapse; their outcome feeds the show-up estimate.
local window = num('claimWindowSeconds', 0) * 1000
local offers = num('offersLive', 0)
local lapsed = num('lapsed', 0)
local finO = num('finOffered', 0)
local finC = num('finClaimed', 0)
while true do
  local first = redis.call('ZRANGE', KEYS[3], 0, 0)
  if #first == 0 then break end
  local h1, bt, size = string.match(first[1], '^(%d+):(%d+):(%d+)$')
  bt = tonumber(bt)
  size = tonumber(size)
  if bt + window > now then break end
  local claimed = tonumber(redis.call('HGET', KEYS[4], h1) or '0')
  offers = offers - (size - claimed)
  lapsed = lapsed + (size - claimed)
  finO = finO * 0.99 + size
  finC = finC * 0.99 + claimed
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, 0)
  redis.call('HDEL', KEYS[4], h1)
end
if offers < 0 then offers = 0 end
local showup = 1
if finO >= 20 then showup = finC / finO end
if showup < 0.2 then showup = 0.2 end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local active = redis.call('ZCARD', KEYS[2])

-- rate means shoppers entering checkout; offer more when some never come back.
local rate = ramped(r, openedAt, now)
local offerRate = rate / showup
local bucket = num('bucket', 0)
if state == 'open' then
  bucket = bucket + offerRate * elapsed / 1000
  local burst = offerRate
  if burst < 1 then burst = 1 end
  if offerRate <= 0 then burst = 0 end
  if bucket > burst then bucket = burst end
  local n = math.floor(bucket)
  if n > tail - head then n = tail - head end
  local capacity = tonumber(r['capacity'])
  if capacity ~= nil then
    local free = capacity - active - offers
    if free < 0 then free = 0 end
    if n > free then n = free end
  end
  if showup < 1 and num('entryTatMs', 0) - now > 5000 then n = 0 end
  if n > 0 then
    head = head + n
    bucket = bucket - n
    offers = offers + n
    redis.call('ZADD', KEYS[3], head, fmt(head) .. ':' .. fmt(now) .. ':' .. fmt(n))
  end
else
  bucket = 0
end

-- The queue drained (everyone waiting was offered), and crossed a hook's threshold (fires again once it
-- has fallen to half of it).
local waiting = tail - head
if waiting == 0 and r['wasWaiting'] == '1' and state == 'open' then event('room.queue_drained', {tail = tail}) end
local wasWaiting = waiting > 0 and '1' or '0'
if r['wasWaiting'] ~= wasWaiting then
  r['wasWaiting'] = wasWaiting
  redis.call('HSET', KEYS[1], 'wasWaiting', wasWaiting)
end
for _, hook in ipairs(hooks) do
  local threshold = tonumber(hook.queueAbove)
  if threshold then
    local field = 'above:' .. fmt(threshold)
    if waiting > threshold and r[field] ~= '1' then
      r[field] = '1'
      redis.call('HSET', KEYS[1], field, '1')
      event('room.queue_above', {threshold = threshold, waiting = waiting})
    elseif waiting <= threshold / 2 and r[field] == '1' then
      r[field] = '0'
      redis.call('HSET', KEYS[1], field, '0')
    end
  end
end

local oldest = ''
if tail > head then
  local e = redis.call('ZREVRANGEBYSCORE', KEYS[5], head + 1, '-inf', 'LIMIT', 0, 1)
  if #e > 0 then
    local s, at = string.match(e[1], '^(%d+):(%d+)$')
    oldest = at
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. s)
  end
end

r['state'] = state
r['head'] = fmt(head)
r['bucket'] = string.format('%.6f', bucket)
r['lastTickMs'] = fmt(now)
r['offersLive'] = fmt(offers)
r['lapsed'] = fmt(lapsed)
r['finOffered'] = string.format('%.4f', finO)
r['finClaimed'] = string.format('%.4f', finC)
r['showUp'] = string.format('%.4f', showup)
r['offerRate'] = string.format('%.4f', offerRate)
r['openedAtMs'] = fmt(openedAt)
redis.call('HSET', KEYS[1], 'state', state, 'head', r['head'], 'bucket', r['bucket'],
  'lastTickMs', r['lastTickMs'], 'offersLive', r['offersLive'], 'lapsed', r['lapsed'],
  'finOffered', r['finOffered'], 'finClaimed', r['finClaimed'], 'showUp', r['showUp'],
  'offerRate', r['offerRate'], 'openedAtMs', r['openedAtMs'])
-- Analytics: once a second (whichever gate ticks first; the check is atomic, so gates never double count)
-- the room's cumulative counters as one sample, and once a minute into the minute series with the
-- time-in-queue buckets. Bounded by time (2 h of seconds, 14 days of minutes), never by shoppers.
local sec = math.floor(now / 1000)
local lastSec = num('seriesSec', 0)
if sec > lastSec then
  local line = table.concat({fmt(sec), fmt(tail), fmt(head), fmt(lapsed), fmt(num('claims', 0)), fmt(num('releases', 0)),
    fmt(num('consumed', 0)), fmt(active), fmt(offers), r['offerRate'], r['showUp'], state}, '|')
  redis.call('ZADD', KEYS[6], sec, line)
  if math.floor(sec / 60) > math.floor(lastSec / 60) then
    -- Trimmed once a minute (a tick stays a few commands): at most 2 h and a minute of seconds.
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', sec - 7200)
    local waits = {}
    for i = 0, 10 do waits[#waits + 1] = fmt(num('wait' .. i, 0)) end
    redis.call('ZADD', KEYS[7], sec, line .. '|' .. table.concat(waits, ','))
    redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', sec - 14 * 86400)
    event('room.minute', {tail = tail, head = head, lapsed = lapsed, claims = num('claims', 0), releases = num('releases', 0),
      consumed = num('consumed', 0), active = active, waiting = tail - head, offerRate = tonumber(r['offerRate']),
      showUp = tonumber(r['showUp']), state = state})
  end
  r['seriesSec'] = fmt(sec)
  redis.call('HSET', KEYS[1], 'seriesSec', r['seriesSec'])
end

local out = {'now', fmt(now), 'active', fmt(active), 'oldestJoinMs', oldest}
for k, v in pairs(r) do
  table.insert(out, k)
  table.insert(out, v)
end
return out
