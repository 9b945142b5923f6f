-- Single use of an admission token: the first consume wins; a released admission cannot be consumed.
-- KEYS: used, admission, state. ARGV: jti, token expiry (unix ms), how long to remember the end (ms), the
-- caller's idempotency key ('' for none), kept in the marker.
-- Returns {'consumed'} the first time, {'again'} to the same key after, {'used'} to any other consume, and
-- {'released'} when the checkout was released.
if admission_end(KEYS[2], ARGV[1]) == 'released' then return {'released'} end
local mark = ARGV[4] == '' and '1' or ('key:' .. ARGV[4])
if not redis.call('SET', KEYS[1], mark, 'NX', 'PXAT', ARGV[2]) then
  if ARGV[4] ~= '' and redis.call('GET', KEYS[1]) == mark then return {'again'} end
  return {'used'}
end
-- Admission to consume (checkout's duration, a signal for the rate tuner): summed beside the count.
local record = redis.call('GET', KEYS[2])
local enters = record and string.match(record, '^[^|]*|(%d+)|%d+$')
end_admission(KEYS[2], ARGV[1], 'consumed', ARGV[3])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBY', KEYS[3], 'consumed', 1)
  if enters and string.sub(record, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    local took = clock('') - tonumber(enters)
    if took > 0 then redis.call('HINCRBY', KEYS[3], 'consumeMs', fmt(took)) end
  end
end
return {'consumed'}
