import RedisClient

/// The Lua scripts that change room state. Each runs atomically in Redis and takes its clock from Redis
/// `TIME`, so any number of front-door instances can run them without coordination.
enum RoomScripts {
    /// Shared helpers, prepended to each script.
    private static let prelude = """
        local function fmt(x) return string.format('%.0f', x) end
        local function nowms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """

    /// Advances `head` by the token bucket and returns the room's fields plus `now`, `active`, `oldestJoinMs`.
    ///
    /// KEYS: state, active, offers, offerClaims, arrivals. ARGV: a fresh lottery key (used only at opening).
    /// `lastTickMs` makes ticks from many instances add up to exactly `rate × time`: each tick credits only
    /// the time since the previous one, whoever ran it.
    static let tick = RedisScript(prelude + """
        local now = nowms()
        local raw = redis.call('HGETALL', KEYS[1])
        if #raw == 0 then return false end
        local r = {}
        for i = 1, #raw, 2 do r[raw[i]] = raw[i + 1] end
        local function num(k, d) local v = tonumber(r[k]); if v == nil then return d end; return v end

        local state = r['state']
        local tail = num('tail', 0)
        local head = num('head', 0)
        local elapsed = now - num('lastTickMs', now)
        if elapsed < 0 then elapsed = 0 end
        if elapsed > 1000 then elapsed = 1000 end

        -- A scheduled room opens here: the pre-queue is frozen and its lottery key drawn.
        local openedAt = num('openedAtMs', 0)
        local opensAt = num('opensAtMs', 0)
        if state == 'scheduled' and opensAt > 0 and now >= opensAt then
          state = 'open'
          openedAt = now
          r['prequeue'] = fmt(tail)
          r['lotteryKey'] = ARGV[1]
          redis.call('HSET', KEYS[1], 'prequeue', r['prequeue'], 'lotteryKey', ARGV[1])
        end

        -- Offers older than the claim window lapse; their outcome feeds the show-up estimate.
        local window = num('claimWindowSeconds', 60) * 1000
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
        local rate = num('rate', 0)
        local ramp = num('rampSeconds', 0)
        if ramp > 0 and openedAt > 0 and now < openedAt + ramp * 1000 then
          local start = num('rampStartRate', -1)
          if start < 0 then start = rate / 10 end
          rate = start + (rate - start) * ((now - openedAt) / (ramp * 1000))
        end
        local offerRate = rate / showup
        local bucket = num('bucket', 0)
        if state == 'open' then
          bucket = bucket + offerRate * elapsed / 1000
          local burst = offerRate
          if burst < 1 then burst = 1 end
          if bucket > burst then bucket = burst end
          local n = math.floor(bucket)
          if n > tail - head then n = tail - head end
          local capacity = num('capacity', -1)
          if capacity >= 0 then
            local free = capacity - active - offers
            if free < 0 then free = 0 end
            if n > free then n = free end
          end
          if n > 0 then
            head = head + n
            bucket = bucket - n
            offers = offers + n
            redis.call('ZADD', KEYS[3], head, fmt(head) .. ':' .. fmt(now) .. ':' .. fmt(n))
          end
        else
          bucket = 0
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
        local out = {'now', fmt(now), 'active', fmt(active), 'oldestJoinMs', oldest}
        for k, v in pairs(r) do
          table.insert(out, k)
          table.insert(out, v)
        end
        return out
        """)

    /// Group commit: hands out `n` consecutive places with one HINCRBY.
    ///
    /// KEYS: state, arrivals. ARGV: n. Returns `{firstSeq, state, epoch}`; `{0, 'missing'|'closed'}` refuses.
    static let join = RedisScript(prelude + """
        local st = redis.call('HMGET', KEYS[1], 'state', 'epoch', 'lastArrivalMs')
        if not st[1] then return {0, 'missing'} end
        if st[1] == 'closed' then return {0, 'closed'} end
        local n = tonumber(ARGV[1])
        local tail = redis.call('HINCRBY', KEYS[1], 'tail', n)
        local first = tail - n + 1
        local now = nowms()
        if now - tonumber(st[3] or '0') >= 100 then
          redis.call('ZADD', KEYS[2], first, fmt(first) .. ':' .. fmt(now))
          redis.call('HSET', KEYS[1], 'lastArrivalMs', fmt(now))
        end
        return {first, st[1], st[2]}
        """)

    /// Records an admission once per ticket and returns it (`{'admitted', 'jti|iat|exp'}`), or why not:
    /// `waiting`, `expired` (the offer lapsed), `closed`, `foreign` (another incarnation of the room), `missing`.
    ///
    /// KEYS: state, active, offers, offerClaims, admission. ARGV: effective position, new jti, epoch.
    static let claim = RedisScript(prelude + """
        local existing = redis.call('GET', KEYS[5])
        if existing then return {'admitted', existing} end
        local r = redis.call('HMGET', KEYS[1], 'head', 'claimWindowSeconds', 'sessionTTLSeconds', 'epoch', 'state')
        if not r[1] then return {'missing'} end
        if r[4] ~= ARGV[3] then return {'foreign'} end
        local pos = tonumber(ARGV[1])
        if pos > tonumber(r[1]) then return {'waiting'} end
        if r[5] == 'closed' then return {'closed'} end
        local now = nowms()
        local b = redis.call('ZRANGEBYSCORE', KEYS[3], pos, '+inf', 'LIMIT', 0, 1)
        if #b == 0 then return {'expired'} end
        local h1, bt, size = string.match(b[1], '^(%d+):(%d+):(%d+)$')
        if pos <= tonumber(h1) - tonumber(size) then return {'expired'} end
        if tonumber(bt) + tonumber(r[2]) * 1000 < now then return {'expired'} end
        local ttl = tonumber(r[3]) * 1000
        local value = ARGV[2] .. '|' .. fmt(now) .. '|' .. fmt(now + ttl)
        redis.call('SET', KEYS[5], value, 'PX', ttl)
        redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
        redis.call('HINCRBY', KEYS[4], h1, 1)
        redis.call('HINCRBY', KEYS[1], 'offersLive', -1)
        redis.call('HINCRBY', KEYS[1], 'claims', 1)
        return {'admitted', value}
        """)

    /// Frees a checkout slot at once. KEYS: state, active. ARGV: jti. Returns 1 the first time, 0 after.
    static let release = RedisScript("""
        local n = redis.call('ZREM', KEYS[2], ARGV[1])
        if n == 1 then redis.call('HINCRBY', KEYS[1], 'releases', 1) end
        return n
        """)

    /// Creates, replaces, seeds or updates a room's settings.
    ///
    /// KEYS: state, registry. ARGV: name, mode (`create`: create or replace; `seed`: only if absent;
    /// `update`: only if present), epoch, initial state, then field/value pairs.
    /// Returns 1 created, 2 replaced/updated, 0 untouched.
    static let upsert = RedisScript(prelude + """
        local exists = redis.call('EXISTS', KEYS[1]) == 1
        local mode = ARGV[2]
        if mode == 'seed' and exists then return 0 end
        if mode == 'update' and not exists then return 0 end
        local now = nowms()
        if not exists then
          local openedAt = '0'
          if ARGV[4] == 'open' then openedAt = fmt(now) end
          redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'tail', '0', 'head', '0', 'state', ARGV[4],
            'createdAtMs', fmt(now), 'lastTickMs', fmt(now), 'openedAtMs', openedAt, 'claims', '0',
            'releases', '0', 'lapsed', '0', 'offersLive', '0')
        end
        for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        redis.call('SADD', KEYS[2], ARGV[1])
        if exists then return 2 end
        return 1
        """)

    /// Ops state changes. KEYS: state. ARGV: action (`pause`, `resume`, `close`, `open`).
    /// Returns the new state, or `{err}` when the change makes no sense from the current state.
    /// Opening a scheduled room moves `opensAt` to now; the next tick draws the lottery.
    static let setState = RedisScript(prelude + """
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state then return 'missing' end
        local action = ARGV[1]
        local now = nowms()
        local function become(s)
          redis.call('HSET', KEYS[1], 'state', s, 'lastTickMs', fmt(now))
          if s == 'open' and tonumber(redis.call('HGET', KEYS[1], 'openedAtMs') or '0') == 0 then
            redis.call('HSET', KEYS[1], 'openedAtMs', fmt(now))
          end
          return s
        end
        if action == 'close' then return become('closed') end
        if action == 'pause' then
          if state == 'open' or state == 'paused' then return become('paused') end
          return 'conflict:' .. state
        end
        if action == 'resume' then
          if state == 'paused' or state == 'open' then return become('open') end
          return 'conflict:' .. state
        end
        if action == 'open' then
          if state == 'scheduled' then
            redis.call('HSET', KEYS[1], 'opensAtMs', fmt(now))
            return 'scheduled'
          end
          return become('open')
        end
        return 'conflict:' .. state
        """)
}
