-- Shared helpers, prepended to every script.
local function fmt(x) return string.format('%.0f', x) end
-- Redis's own clock, so every gate instance agrees; tests pass a clock in to replay a scenario.
local function clock(given)
  if given and given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- RoomSettings.admissionRate: the rate, or with autoTune the tuner's effectiveRate within minRate...rate.
local function admission_rate(r)
  local rate = tonumber(r['rate']) or 0
  local effective = tonumber(r['effectiveRate'])
  if r['autoTune'] == '1' and effective ~= nil and effective >= 0 then
    local floor = tonumber(r['minRate']) or 0
    if effective < floor then effective = floor end
    if effective < rate then rate = effective end
  end
  return rate
end
-- AdmissionModel.rate: the admission rate, ramped linearly after opening.
local function ramped(r, openedAt, now)
  local rate = admission_rate(r)
  local ramp = tonumber(r['rampSeconds']) or 0
  if ramp > 0 and openedAt > 0 and now < openedAt + ramp * 1000 then
    local start = tonumber(r['rampStartRate'])
    if start == nil then start = (tonumber(r['rate']) or 0) / 10 end
    if start > rate then start = rate end
    return start + (rate - start) * ((now - openedAt) / (ramp * 1000))
  end
  return rate
end

-- The entry schedule's constants, passed in from AdmissionModel (ARGV 'entry' below): {burstMs, minimumRate, horizonMs}.
local function entry_constants(first)
  return {burst = tonumber(ARGV[first]), minimum = tonumber(ARGV[first + 1]), horizon = tonumber(ARGV[first + 2])}
end
-- AdmissionModel.entrySpacingMs: entries 1/rate apart, never wider than at the minimum rate.
local function entry_spacing(rate, e) return 1000 / math.max(rate, e.minimum) end
-- AdmissionModel.entrySchedule: the stored schedule as a claim may use it; one beyond the horizon (or
-- unreadable) was written before the horizon existed and counts as none.
local function entry_schedule(tat, now, e)
  if tat ~= tat or tat > now + e.horizon then return 0 end
  return tat
end

-- AdmissionModel.settingsChanged: a faster rate re-spaces the entries reserved ahead (state hash `key`).
local function respace(key, old, new, now, e)
  local openedAt = tonumber(new['openedAtMs']) or 0
  local before = ramped(old, openedAt, now)
  local after = ramped(new, openedAt, now)
  local tat = entry_schedule(tonumber(new['entryTatMs']) or 0, now, e)
  if after > before and tat > now then
    local ratio = 0
    if before > 0 then ratio = entry_spacing(after, e) / entry_spacing(before, e) end
    redis.call('HSET', key, 'entryTatMs', string.format('%.3f', now + (tat - now) * ratio))
  end
end

-- An admission record is 'jti|entersAtMs|expiresAtMs', with '|released' or '|consumed' once it has ended.
-- The end of the admission stored at `key` for `jti`, or nil while it lasts (or when it is another's).
local function admission_end(key, jti)
  local value = redis.call('GET', key)
  if not value or string.sub(value, 1, #jti + 1) ~= jti .. '|' then return nil end
  return string.match(value, '^[^|]*|[^|]*|[^|]*|(%a+)$')
end

-- Marks the admission at `key` ended (kept `keepMs`, so status says "done" for as long as tickets live).
local function end_admission(key, jti, how, keepMs)
  local value = redis.call('GET', key)
  if not value or string.sub(value, 1, #jti + 1) ~= jti .. '|' then return end
  if string.match(value, '^[^|]*|[^|]*|[^|]*$') then redis.call('SET', key, value .. '|' .. how, 'PX', keepMs) end
end

-- Arrival checkpoints, at most ten a second, give the oldest waiting shopper's age.
local function record_arrival(stateKey, arrivalsKey, first, lastArrivalMs)
  local now = clock('')
  if now - tonumber(lastArrivalMs or '0') >= 100 then
    redis.call('ZADD', arrivalsKey, first, fmt(first) .. ':' .. fmt(now))
    redis.call('HSET', stateKey, 'lastArrivalMs', fmt(now))
  end
end

-- Time-in-queue buckets (upper bounds in seconds; the last is open): WaitBuckets.bounds in Swift.
local wait_bounds = {10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200}
local function wait_bucket(seconds)
  for i, bound in ipairs(wait_bounds) do
    if seconds < bound then return i - 1 end
  end
  return #wait_bounds
end

-- Appends an event to the room's stream (KEYS events and hookSets given as `eventsKey`, `setsKey`) with
-- the hooks it goes to: the room's hook list as it is when the event happens, kept in the hook-sets hash
-- under its SHA-1 (`hooks` names it; '' for none). The dispatcher delivers to that set, signed with its
-- secrets, however the hooks are edited afterwards. A set unused for an hour goes when another is added.
local function add_event(eventsKey, setsKey, hooksText, kind, now, dataText)
  local set = ''
  if hooksText and hooksText ~= '' then
    set = redis.sha1hex(hooksText)
    local added = redis.call('HSET', setsKey, set, fmt(now) .. '|' .. hooksText)
    if added == 1 then
      local all = redis.call('HGETALL', setsKey)
      for i = 1, #all, 2 do
        local used = tonumber(string.match(all[i + 1], '^(%d+)|'))
        if used == nil or used < now - 3600000 then redis.call('HDEL', setsKey, all[i]) end
      end
    end
  end
  redis.call('XADD', eventsKey, 'MAXLEN', '~', '10000', '*', 'type', kind, 'at', fmt(now), 'data', dataText, 'hooks', set)
end
