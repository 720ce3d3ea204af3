-- Functions several scripts share. A script takes them with a line `-- #include lib`,
-- which the loader (engine/storage/redis_scripts.py) replaces by the definitions of this
-- file the script uses. Not a script of its own: no KEYS, no ARGV. WAKE_CAP, BUCKETS,
-- BUCKET_TAIL and SMALL are constants the loader defines. Outside a definition (a line
-- `local function NAME` or `local NAME =` in the first column, up to the next such line
-- or comment there) stand only comments.
--
-- Layout 2 (engine/storage/redis_layout.py): a script's `ready` and `msg` are the
-- PREFIXES `hueyctl:{q}:r:` and `hueyctl:{q}:m:`. A priority level p has its list
-- `ready .. p` (and is on the zset `levels` while that list may hold ids); a body is in
-- `msg .. bucket_of(id)` when the id and the body are at most SMALL bytes, else in
-- `msg .. 'big'`. Those keys are not in KEYS: they share the queue's hash tag, so they
-- are in the declared keys' slot (Redis Cluster allows that).
--
-- Redis 7.0 writes a number given to redis.call out with sprintf, which can cost more than
-- the command: constant arguments are strings here ('0', not 0). And tonumber parses a
-- string twice, arithmetic once: the hot paths convert with `s + 0`.
-- #include bucket

-- The running total of the dead bodies' bytes, a field of deadinfo no task id takes.
local DEAD_BYTES = '\0bytes'

-- --- bodies ---------------------------------------------------------------------------

-- The body stored under id, or false.
local function body_get(msg, id)
  if #id > SMALL then return redis.call('HGET', msg .. 'big', id) end
  local v = redis.call('HGET', bucket_key(msg, id), id)
  if v then return v end
  return redis.call('HGET', msg .. 'big', id)
end

local function body_exists(msg, id)
  if #id <= SMALL and redis.call('HEXISTS', bucket_key(msg, id), id) == 1 then return true end
  return redis.call('HEXISTS', msg .. 'big', id) == 1
end

-- Store a body under id, in the one hash it belongs in. new: no body is stored under
-- the id (so none can be left in the other hash: one command less).
local function body_put(msg, id, data, new)
  local big = msg .. 'big'
  if #id > SMALL then
    redis.call('HSET', big, id, data)
    return
  end
  local b = bucket_key(msg, id)
  if #data > SMALL then b, big = big, b end
  if not new then redis.call('HDEL', big, id) end
  redis.call('HSET', b, id, data)
end

-- Delete the body of id: 1 if there was one.
local function body_del(msg, id)
  if #id <= SMALL and redis.call('HDEL', bucket_key(msg, id), id) == 1 then return 1 end
  return redis.call('HDEL', msg .. 'big', id)
end

-- The body's length in bytes (0: none).
local function body_len(msg, id)
  if #id <= SMALL then
    local n = redis.call('HSTRLEN', bucket_key(msg, id), id)
    if n > 0 then return n end
  end
  return redis.call('HSTRLEN', msg .. 'big', id)
end

-- --- priorities and the ready lists -----------------------------------------------------

-- A priority as the one text that names its level (and is stored in prio): Lua's own
-- number text, so '5', '5.0' and 5 name the same list wherever they come from.
local function level(p)
  return tostring(tonumber(p))
end

local function set_prio(prio, id, p)
  if p ~= '0' then redis.call('HSET', prio, id, p) else redis.call('HDEL', prio, id) end
end

-- The level of a stored task ('0' when prio has no entry).
local function prio_of(prio, id)
  return redis.call('HGET', prio, id) or '0'
end

-- Put id at the back of its level (FIFO); a list that was empty puts its level on levels.
-- (So a non-empty list's level is always on levels, and a push onto a list that was not
-- empty needs no ZADD.)
local function ready_push_back(ready, levels, p, id)
  if redis.call('RPUSH', ready .. p, id) == 1 then
    redis.call('ZADD', levels, -tonumber(p), p)
  end
end

local function ready_push_front(ready, levels, p, id)
  if redis.call('LPUSH', ready .. p, id) == 1 then
    redis.call('ZADD', levels, -tonumber(p), p)
  end
end

-- Take a ready id off its level's list: O(n) of that list, so only on rare paths (an
-- admin delete, a flush, re-adding an id that is ready now). Its level stays on levels
-- (an empty list there is dropped by the next claim that meets it).
local function ready_remove(ready, prio, id)
  return redis.call('LREM', ready .. prio_of(prio, id), 0, id)
end

-- HMGET fields of a hash, 1,000 a command (unpack has a stack limit); none: none.
local function hmget_all(key, fields)
  if #fields == 0 then return {} end
  if #fields <= 1000 then return redis.call('HMGET', key, unpack(fields)) end
  local out = {}
  for s = 1, #fields, 1000 do
    local got = redis.call('HMGET', key, unpack(fields, s, math.min(s + 999, #fields)))
    for j = 1, #got do out[s + j - 1] = got[j] end
  end
  return out
end

-- HDEL fields of a hash, 1,000 a command.
local function hdel_all(key, fields)
  for s = 1, #fields, 1000 do redis.call('HDEL', key, unpack(fields, s, math.min(s + 999, #fields))) end
end

-- ZREM ids from a zset, 1,000 a command (unpack has a stack limit).
local function zrem_all(key, ids)
  for s = 1, #ids, 1000 do redis.call('ZREM', key, unpack(ids, s, math.min(s + 999, #ids))) end
end

-- Put ids at the back of their levels, in the order given (one RPUSH per level and
-- 1,000 ids).
local function to_back(ready, levels, prio, ids)
  local by, order = {}, {}
  for _, id in ipairs(ids) do
    local p = prio_of(prio, id)
    local g = by[p]
    if not g then
      g = {}
      by[p] = g
      order[#order + 1] = p
    end
    g[#g + 1] = id
  end
  for _, p in ipairs(order) do
    local g = by[p]
    for s = 1, #g, 1000 do
      local e = math.min(s + 999, #g)
      if redis.call('RPUSH', ready .. p, unpack(g, s, e)) == e - s + 1 then
        redis.call('ZADD', levels, -tonumber(p), p)
      end
    end
  end
end

-- Put tasks handed back (recover, release) at the front of their level, in id order:
-- the highest id first, each pushed before the ones already there.
local function to_front(ready, levels, prio, ids)
  table.sort(ids, function(a, b) return a > b end)
  for _, id in ipairs(ids) do
    ready_push_front(ready, levels, prio_of(prio, id), id)
  end
end

-- How many ids wait on the ready lists. lv, from: what a claim just read of levels and
-- the first of those levels whose list it did not empty (claim's second and third
-- results: the levels before it left levels, and nothing added one since); nil: read.
local function ready_count(ready, levels, lv, from)
  if not lv then lv, from = redis.call('ZRANGE', levels, '0', '-1'), 1 end
  local n = 0
  for i = from, #lv do
    n = n + redis.call('LLEN', ready .. lv[i])
  end
  return n
end

-- An id stored before (a body exists under it) leaves wherever it waits, so that it is
-- in one place at a time: the scheduled or the dead set, a parked list (the entry left
-- there is skipped by unpark, which goes by parkedin), else its ready list. Call it
-- before the id's prio entry changes (the ready list is found by it).
local function leave(ready, prio, sched, dead, deadinfo, parkedin, id)
  if redis.call('ZREM', sched, id) == 1 then return end
  if redis.call('ZREM', dead, id) == 1 then
    redis.call('HDEL', deadinfo, id)
    return
  end
  if redis.call('HDEL', parkedin, id) == 1 then return end
  ready_remove(ready, prio, id)
end

-- --- dead letters -------------------------------------------------------------------------

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
      body_del(msg, x)
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
    sizes[j] = body_len(msg, x)
    sum = sum + sizes[j]
  end
  local n, goal = 0, math.floor(byte_cap * 0.9)
  while sum > goal and n < #ids - 1 do
    n = n + 1
    sum = sum - sizes[n]
    local x = ids[n]
    body_del(msg, x)
    redis.call('HDEL', deadinfo, x)
    redis.call('HDEL', prio, x)
    redis.call('HDEL', deliv, x)
  end
  if n > 0 then redis.call('ZREMRANGEBYRANK', dead, 0, n - 1) end
  redis.call('HSET', deadinfo, DEAD_BYTES, sum)
end

-- --- consumers ----------------------------------------------------------------------------

-- The server's clock, epoch seconds: leases are reckoned on it (clock = 'server'), so
-- a worker whose own clock is off cannot declare live workers' leases lapsed.
local function server_now()
  local t = redis.call('TIME')
  return t[1] + t[2] / 1000000
end

-- Push one wake token for an idle consumer; the list never grows past WAKE_CAP.
local function wake_up(key)
  if redis.call('LLEN', key) < WAKE_CAP then redis.call('LPUSH', key, '1') end
end

-- The consumer in a running entry `<consumer>|<claimed at>`.
local function owner_of(v)
  return string.match(v, '^(.*)|[^|]*$')
end

-- owner_of(v) == consumer, without a pattern match (the finish path asks it per task).
local function held_by(v, consumer)
  local n = #consumer
  return string.byte(v, n + 1) == 124 and string.sub(v, 1, n) == consumer
    and not string.find(v, '|', n + 2, true)
end

-- Up to n ids off the ready lists, in order: the levels highest first (levels), each
-- from its front, and their delivery counts so far (false: never delivered), read with
-- one HMGET of deliv per list. A task delivered before without finishing comes alone
-- (so a task that kills its worker takes no bystanders): the ids popped after it go
-- back to the front of their list, in their order. A level whose list the pop emptied
-- leaves levels. Also returns the levels as read and the first of them whose list may
-- still hold ids (those before it have left levels). The one id of a take that can
-- bring no other (n is 1, or its list was the last and it emptied it) comes with its
-- count unread (seen[1] nil): its count makes no difference here, and claim counts it
-- with one HINCRBY.
local function take(ready, levels, deliv, n)
  local out, seen = {}, {}
  if n <= 0 then return out, seen end
  local lv = redis.call('ZRANGE', levels, '0', '-1')
  for i, p in ipairs(lv) do
    local key, want = ready .. p, n - #out
    local ids = redis.call('LPOP', key, want)
    if not ids then
      redis.call('ZREM', levels, p)
    elseif #out == 0 and #ids == 1 and (want == 1 or i == #lv) then
      out[1] = ids[1]
      if want == 1 then return out, seen, lv, i end
      redis.call('ZREM', levels, p)
      return out, seen, lv, i + 1
    else
      local counts = hmget_all(deliv, ids)
      for j, id in ipairs(ids) do
        if counts[j] then
          local from = j
          if #out == 0 then
            out[1] = id
            seen[1] = counts[j]
            from = j + 1
          end
          if from <= #ids then
            local back = {}
            for x = #ids, from, -1 do back[#back + 1] = ids[x] end
            redis.call('LPUSH', key, unpack(back))
          elseif #ids < want then
            redis.call('ZREM', levels, p)
            return out, seen, lv, i + 1
          end
          return out, seen, lv, i
        end
        out[#out + 1] = id
        seen[#out] = false
      end
      if #ids < want then redis.call('ZREM', levels, p) end
      if #out >= n then return out, seen, lv, i end
    end
  end
  return out, seen, lv, #lv + 1
end

-- Renew the consumer's lease, take up to limit ids, record them as running for the
-- consumer and count the delivery; returns (id data deliveries)*, where an id with no
-- body comes as (id false 0), so its loss is told. Shared by claim.lua and round.lua.
-- The lease runs lease seconds from now, or from the server's clock (clock = 'server').
-- One HGET per body; the delivery counts (from take's HMGET) and the running entries
-- of the batch go in one HSET each. Also returns take's levels and first level that
-- may hold ids (for ready_count).
local function claim(ready, levels, msg, running, deliv, leases, consumer, now, limit, lease, clock)
  local base
  if clock == 'server' then base = server_now() else base = now + 0 end
  redis.call('ZADD', leases, 'GT', base + lease, consumer)  -- never moves a lease back
  local out, counts, runs, now_at = {}, {}, {}, {}
  local ids, seen, lv, from = take(ready, levels, deliv, tonumber(limit))
  local entry = consumer .. '|' .. now
  for j, id in ipairs(ids) do
    local data = body_get(msg, id)
    out[#out + 1] = id
    if data then
      local c
      if seen[j] == nil then  -- (take's lone id: its count unread)
        c = redis.call('HINCRBY', deliv, id, '1')
      else
        -- (now_at: an id popped twice counts twice, as HINCRBY would)
        c = (now_at[id] or tonumber(seen[j]) or 0) + 1
        now_at[id] = c
        counts[#counts + 1] = id
        counts[#counts + 1] = c == 1 and '1' or c
      end
      out[#out + 1] = data
      out[#out + 1] = c
      runs[#runs + 1] = id
      runs[#runs + 1] = entry
    else
      out[#out + 1] = false
      out[#out + 1] = 0
    end
  end
  for s = 1, #counts, 1000 do
    redis.call('HSET', deliv, unpack(counts, s, math.min(s + 999, #counts)))
  end
  for s = 1, #runs, 1000 do
    redis.call('HSET', running, unpack(runs, s, math.min(s + 999, #runs)))
  end
  return out, lv, from
end
