-- Appends an event made outside a script (settings changes, creation, deletion) to the room's stream,
-- bound to the hooks the room has now (see add_event). KEYS: state, events, hook sets. ARGV: type,
-- data (a JSON object's text), clock.
add_event(KEYS[2], KEYS[3], redis.call('HGET', KEYS[1], 'hooks'), ARGV[1], clock(ARGV[3]), ARGV[2])
return 1
