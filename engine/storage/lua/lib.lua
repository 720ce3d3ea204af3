-- Functions several scripts share. A script takes them with a line `-- #include lib`,
-- which the loader (engine/storage/redis_scripts.py) replaces by this file. Not a script
-- of its own: no KEYS, no ARGV. WAKE_CAP is a constant the loader defines.

-- The running total of the dead bodies' bytes, a field of deadinfo no task id takes.
local DEAD_BYTES = '\0bytes'

-- Keep the dead set at most cap long and its bodies at most about byte_cap bytes
-- (0: no byte cap): the oldest go, with everything stored about them. added: the bytes
-- of the bodies just set aside. The total in DEAD_BYTES only grows (ids that leave
-- the dead set otherwise are not subtracted), so it never undercounts; past byte_cap
-- the bodies are measured exactly and trimmed to 90% of it, so that O(n) count runs at
-- most once per tenth of the cap set aside. The newest letter always stays.
local function trim_dead(dead, deadinfo, msg, prio, cap, deliv, byte_cap, added)
  local extra = redis.call('ZCARD', dead) - cap
  if extra > 0 then
    local old = redis.call('ZRANGE', dead, 0, extra - 1)
    for _, x in ipairs(old) do
      redis.call('HDEL', msg, x)
      redis.call('HDEL', deadinfo, x)
      redis.call('HDEL', prio, x)
      redis.call('HDEL', deliv, x)
    end
    redis.call('ZREMRANGEBYRANK', dead, 0, extra - 1)
  end
  if byte_cap <= 0 then return end
  if redis.call('HINCRBY', deadinfo, DEAD_BYTES, added) <= byte_cap then return end
  local ids = redis.call('ZRANGE', dead, 0, -1)
  local sizes, sum = {}, 0
  for j, x in ipairs(ids) do
    sizes[j] = redis.call('HSTRLEN', msg, x)
    sum = sum + sizes[j]
  end
  local n, goal = 0, math.floor(byte_cap * 0.9)
  while sum > goal and n < #ids - 1 do
    n = n + 1
    sum = sum - sizes[n]
    local x = ids[n]
    redis.call('HDEL', msg, x)
    redis.call('HDEL', deadinfo, x)
    redis.call('HDEL', prio, x)
    redis.call('HDEL', deliv, x)
  end
  if n > 0 then redis.call('ZREMRANGEBYRANK', dead, 0, n - 1) end
  redis.call('HSET', deadinfo, DEAD_BYTES, sum)
end

-- The server's clock, epoch seconds: leases are reckoned on it (clock = 'server'), so
-- a worker whose own clock is off cannot declare live workers' leases lapsed.
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Push one wake token for an idle consumer; the list never grows past WAKE_CAP.
local function wake_up(key)
  if redis.call('LLEN', key) < WAKE_CAP then redis.call('LPUSH', key, 1) end
end

-- The consumer in a running entry `<consumer>|<claimed at>`.
local function owner_of(v)
  return string.match(v, '^(.*)|[^|]*$')
end

-- An id re-added elsewhere leaves where it was: a task is in one place at a time.
local function forget(zset_a, zset_b, deadinfo, id)
  redis.call('ZREM', zset_a, id)
  if redis.call('ZREM', zset_b, id) == 1 then redis.call('HDEL', deadinfo, id) end
end

local function set_prio(prio, id, p)
  if p ~= 0 then redis.call('HSET', prio, id, p) else redis.call('HDEL', prio, id) end
end

local function prio_of(prio, id)
  return tonumber(redis.call('HGET', prio, id) or '0')
end

-- Up to n ids off the ready queue, in order; a task delivered before without
-- finishing comes alone (so a task that kills its worker takes no bystanders).
local function take(ready, deliv, n)
  local ids = redis.call('ZRANGE', ready, 0, n - 1)
  local out = {}
  for _, id in ipairs(ids) do
    if redis.call('HEXISTS', deliv, id) == 1 then
      if #out == 0 then out[1] = id end
      break
    end
    out[#out + 1] = id
  end
  if #out > 0 then redis.call('ZREM', ready, unpack(out)) end
  return out
end

-- Renew the consumer's lease, take up to limit ids, record them as running for the
-- consumer and count the delivery; returns (id data deliveries)*, where an id with no
-- body comes as (id false 0), so its loss is told. Shared by claim.lua and round.lua.
-- The lease runs lease seconds from now, or from the server's clock (clock = 'server').
local function claim(ready, msg, running, deliv, leases, consumer, now, limit, lease, clock)
  local base = tonumber(now)
  if clock == 'server' then base = server_now() end
  redis.call('ZADD', leases, 'GT', base + tonumber(lease), consumer)  -- never moves a lease back
  local out = {}
  for _, id in ipairs(take(ready, deliv, tonumber(limit))) do
    local data = redis.call('HGET', msg, id)
    if data then
      out[#out + 1] = id
      out[#out + 1] = data
      out[#out + 1] = redis.call('HINCRBY', deliv, id, 1)
      redis.call('HSET', running, id, consumer .. '|' .. now)
    else
      out[#out + 1] = id
      out[#out + 1] = false
      out[#out + 1] = 0
    end
  end
  return out
end

-- Queue order (the ORDER rule of storage/base.py; the layout is in storage/redis.py):
-- the ready scores of priority p lie in (-p - 0.5, -p + 0.5), ORDER_UNIT apart, so
-- levels never mix and each is first-in first-out. The score after the last task of
-- priority p (an empty level starts at -p); places, when given, remembers the last
-- score handed out per priority, so a batch costs one lookup per priority. A level
-- that reaches +-0.25 stays there: its ties then order by id.
local ORDER_UNIT = 2 ^ -36
local function at_back(ready, p, places)
  local last = places and places[p]
  if not last then
    local hit = redis.call('ZREVRANGEBYSCORE', ready, string.format('(%.17g', -p + 0.5),
      string.format('(%.17g', -p - 0.5), 'WITHSCORES', 'LIMIT', 0, 1)
    last = hit[2] and tonumber(hit[2]) or -p - ORDER_UNIT
  end
  local score = math.min(last + ORDER_UNIT, -p + 0.25)
  if places then places[p] = score end
  return score
end

-- Put tasks handed back (recover, release) at the front of their priority, in id order:
-- each goes before the first task of its level, the highest id first.
local function to_front(ready, prio, ids)
  table.sort(ids, function(a, b) return a > b end)
  for _, id in ipairs(ids) do
    local p = prio_of(prio, id)
    local hit = redis.call('ZRANGEBYSCORE', ready, string.format('(%.17g', -p - 0.5),
      string.format('(%.17g', -p + 0.5), 'WITHSCORES', 'LIMIT', 0, 1)
    local first = hit[2] and tonumber(hit[2]) or -p + ORDER_UNIT
    redis.call('ZADD', ready, math.max(first - ORDER_UNIT, -p - 0.25), id)
  end
end
