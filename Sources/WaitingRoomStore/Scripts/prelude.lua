-- Shared helpers, prepended to every script.
local function fmt(x) return string.format('%.0f', x) end
-- Redis's own clock, so every gate instance agrees; tests pass a clock in to replay a scenario.
local function clock(given)
  if given and given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- AdmissionModel.rate: the rate, ramped linearly after opening.
local function ramped(r, openedAt, now)
  local rate = tonumber(r['rate']) or 0
  local ramp = tonumber(r['rampSeconds']) or 0
  if ramp > 0 and openedAt > 0 and now < openedAt + ramp * 1000 then
    local start = tonumber(r['rampStartRate'])
    if start == nil then start = rate / 10 end
    return start + (rate - start) * ((now - openedAt) / (ramp * 1000))
  end
  return rate
end
