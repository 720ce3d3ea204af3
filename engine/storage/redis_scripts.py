"""The Lua scripts of the Redis store: every multi-key transition is one of them.

Each script declares every key it touches in KEYS (Redis Cluster refuses others),
and every key of a queue shares the hash tag ``{<queue>}``. ``PRELUDE`` holds the
helpers the scripts share; ``engine.storage.redis`` prepends it to each script.
"""

_WAKE_CAP = 64
_WAITER, _NOTIFY = "\x00waiter", "\x00notify"  # per result key, for wait_result

PRELUDE = (
    """
local function trim_dead(dead, deadinfo, msg, prio, cap, deliv)
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
end
local function wake(key)
  if redis.call('LLEN', key) < %d then redis.call('LPUSH', key, 1) end
end
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
-- KEYS: ready msg running deliv leases ; ARGV: consumer now limit lease_until.
-- Renew the lease, take up to limit ids, record them as running for the consumer
-- and count the delivery; returns (id data deliveries)*.
local function claim(KEYS, ARGV)
  redis.call('ZADD', KEYS[5], 'GT', ARGV[4], ARGV[1])  -- never moves a lease back
  local out = {}
  for _, id in ipairs(take(KEYS[1], KEYS[4], tonumber(ARGV[3]))) do
    local data = redis.call('HGET', KEYS[2], id)
    if data then
      out[#out + 1] = id
      out[#out + 1] = data
      out[#out + 1] = redis.call('HINCRBY', KEYS[4], id, 1)
      redis.call('HSET', KEYS[3], id, ARGV[1] .. '|' .. ARGV[2])
    end
  end
  return out
end
local function prio_of(prio, id)
  return tonumber(redis.call('HGET', prio, id) or '0')
end
"""
    % _WAKE_CAP
)

# KEYS: ready msg prio wake sched dead deadinfo running deliv ; ARGV: (id prio data)*
# Returns the first id that is running now (and writes nothing), or false.
_ENQUEUE = """
-- Fast path: every id is new (no body stored under it anywhere).
local fresh = true
for i = 1, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    fresh = false
    if redis.call('HEXISTS', KEYS[8], ARGV[i]) == 1 then return ARGV[i] end
  end
end
for i = 1, #ARGV, 3 do
  local id, p = ARGV[i], tonumber(ARGV[i + 1])
  if not fresh then
    forget(KEYS[5], KEYS[6], KEYS[7], id)
    redis.call('HDEL', KEYS[9], id)
    redis.call('HDEL', KEYS[3], id)
  end
  redis.call('HSET', KEYS[2], id, ARGV[i + 2])
  if p ~= 0 then redis.call('HSET', KEYS[3], id, p) end
  redis.call('ZADD', KEYS[1], -p, id)
end
wake(KEYS[4])
return false
"""

# KEYS: ready msg prio wake ; ARGV: id prio data
# The common case, one new task, in as few steps as it takes (no helpers needed): 1
# when a body is already stored under the id (the caller then uses _ENQUEUE), else 0.
_ENQUEUE_NEW = (
    """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then return 1 end
local p = tonumber(ARGV[2])
if p ~= 0 then redis.call('HSET', KEYS[3], ARGV[1], p) end
redis.call('ZADD', KEYS[1], -p, ARGV[1])
if redis.call('LLEN', KEYS[4]) < %d then redis.call('LPUSH', KEYS[4], 1) end
return 0
"""
    % _WAKE_CAP
)

# KEYS: ready msg prio wake sched dead deadinfo unique_key ; ARGV: ttl_ms id prio data
_ENQUEUE_UNIQUE = """
if not redis.call('SET', KEYS[8], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local id, p = ARGV[2], tonumber(ARGV[3])
forget(KEYS[5], KEYS[6], KEYS[7], id)
redis.call('HSET', KEYS[2], id, ARGV[4])
if p ~= 0 then redis.call('HSET', KEYS[3], id, p) end
redis.call('ZADD', KEYS[1], -p, id)
wake(KEYS[4])
return 1
"""

# KEYS: sched msg prio wake ready dead deadinfo running deliv ; ARGV: (id prio eta data)*
# Returns the first id that is running now (and writes nothing), or false.
_SCHEDULE = """
for i = 1, #ARGV, 4 do
  if redis.call('HEXISTS', KEYS[8], ARGV[i]) == 1 then return ARGV[i] end
end
for i = 1, #ARGV, 4 do
  local id, p = ARGV[i], tonumber(ARGV[i + 1])
  forget(KEYS[5], KEYS[6], KEYS[7], id)
  redis.call('HDEL', KEYS[9], id)
  redis.call('HSET', KEYS[2], id, ARGV[i + 3])
  set_prio(KEYS[3], id, p)
  redis.call('ZADD', KEYS[1], ARGV[i + 2], id)
end
wake(KEYS[4])
return false
"""

# KEYS: sched ready prio wake ; ARGV: now limit
_PROMOTE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], -prio_of(KEYS[3], id), id)
end
if #ids > 0 then wake(KEYS[4]) end
return ids
"""

# KEYS: ready msg running deliv leases ; ARGV: consumer now limit lease_until
# Returns (id data deliveries)*.
_CLAIM = """
return claim(KEYS, ARGV)
"""

# KEYS: ready msg running deliv leases watched sched prio wake
# ARGV: consumer now limit lease_until
# Promote due scheduled tasks, claim, and return (id data deliveries)* ready_left
# watched next_eta.
_ROUND = """
local due = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', ARGV[2], 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[7], id)
  redis.call('ZADD', KEYS[1], -prio_of(KEYS[8], id), id)
end
local out = {}
if tonumber(ARGV[3]) > 0 then out = claim(KEYS, ARGV) end
if #due > 0 and redis.call('ZCARD', KEYS[1]) > 0 then wake(KEYS[9]) end
out[#out + 1] = redis.call('ZCARD', KEYS[1])
out[#out + 1] = redis.call('GET', KEYS[6])
local first = redis.call('ZRANGE', KEYS[7], 0, 0, 'WITHSCORES')
out[#out + 1] = first[2] or false
return out
"""

# KEYS: running msg deliv leases ready sched prio dead deadinfo wake, then for each task
#       its result keys, their waiter keys and their notify keys
# ARGV: consumer n_tasks, then for each task: now id n_results results* ttl_ms
#       dead_reason dead_error dead_cap n_enqueue (id prio data)* n_schedule (id prio eta data)*
# Finishes the tasks one after another (a batch of a consumer's finishes in one call);
# returns, per task, false or why it was refused (a refused task writes nothing).
_FINISH = """
local function finish_one(i, k)
  local now, id, nr = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local r0 = i + 2
  local ttl, reason, err = ARGV[r0 + nr + 1], ARGV[r0 + nr + 2], ARGV[r0 + nr + 3]
  local cap = tonumber(ARGV[r0 + nr + 4])
  local e = r0 + nr + 5
  local n = tonumber(ARGV[e])
  local s = e + 1 + 3 * n
  local m = tonumber(ARGV[s])
  local after, knext = s + 1 + 4 * m, k + 3 * nr
  local v = redis.call('HGET', KEYS[1], id)
  if not v then return 'not running', after, knext end
  if owner_of(v) ~= ARGV[1] then return 'owned by another consumer', after, knext end
  local lease = redis.call('ZSCORE', KEYS[4], ARGV[1])
  if (not lease) or tonumber(lease) < tonumber(now) then return 'lease expired', after, knext end
  redis.call('HDEL', KEYS[1], id)
  if reason ~= '' then
    redis.call('ZADD', KEYS[8], now, id)
    redis.call('HSET', KEYS[9], id, reason .. '\\n' .. err)
    trim_dead(KEYS[8], KEYS[9], KEYS[2], KEYS[7], cap, KEYS[3])
  else
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[7], id)
  end
  for r = 1, nr do
    if ttl ~= '0' then
      redis.call('SET', KEYS[k + r], ARGV[r0 + r], 'PX', ttl)
    else
      redis.call('SET', KEYS[k + r], ARGV[r0 + r])
    end
    -- Someone blocks on this result (wait_result): wake them.
    if redis.call('DEL', KEYS[k + nr + r]) == 1 then
      redis.call('LPUSH', KEYS[k + 2 * nr + r], 1)
      redis.call('PEXPIRE', KEYS[k + 2 * nr + r], 60000)
    end
  end
  local j = e + 1
  for _ = 1, n do
    local nid, p = ARGV[j], tonumber(ARGV[j + 1])
    forget(KEYS[6], KEYS[8], KEYS[9], nid)
    redis.call('HSET', KEYS[2], nid, ARGV[j + 2])
    set_prio(KEYS[7], nid, p)
    redis.call('ZADD', KEYS[5], -p, nid)
    j = j + 3
  end
  j = s + 1
  for _ = 1, m do
    local nid, p = ARGV[j], tonumber(ARGV[j + 1])
    forget(KEYS[5], KEYS[8], KEYS[9], nid)
    redis.call('HSET', KEYS[2], nid, ARGV[j + 3])
    set_prio(KEYS[7], nid, p)
    redis.call('ZADD', KEYS[6], ARGV[j + 2], nid)
    j = j + 4
  end
  if n + m > 0 then wake(KEYS[10]) end
  return false, after, knext
end
local out, i, k = {}, 3, 10
for t = 1, tonumber(ARGV[2]) do
  out[t], i, k = finish_one(i, k)
end
return out
"""

# KEYS: running leases ready deliv dead deadinfo msg prio wake
# ARGV: now max_deliveries dead_cap
_RECOVER = """
local now = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local requeued, dead, alive = {}, {}, {}
for i = 1, #all, 2 do
  local id = all[i]
  local owner = owner_of(all[i + 1])
  local ok = alive[owner]
  if ok == nil then
    local lease = redis.call('ZSCORE', KEYS[2], owner)
    ok = (lease ~= false) and tonumber(lease) >= now
    alive[owner] = ok
  end
  if not ok then
    redis.call('HDEL', KEYS[1], id)
    local d = tonumber(redis.call('HGET', KEYS[4], id) or '0')
    if d >= tonumber(ARGV[2]) then
      redis.call('ZADD', KEYS[5], now, id)
      redis.call('HSET', KEYS[6], id,
        'poison\\ndelivered ' .. d .. ' times without finishing')
      dead[#dead + 1] = id
    else
      redis.call('ZADD', KEYS[3], -prio_of(KEYS[8], id), id)
      requeued[#requeued + 1] = id
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
if #dead > 0 then trim_dead(KEYS[5], KEYS[6], KEYS[7], KEYS[8], tonumber(ARGV[3]), KEYS[4]) end
if #requeued > 0 then wake(KEYS[9]) end
return {requeued, dead}
"""

# KEYS: running leases ready deliv prio wake ; ARGV: consumer all_flag count_flag ids...
_RELEASE = """
local wanted = nil
if ARGV[2] == '0' then
  wanted = {}
  for i = 4, #ARGV do wanted[ARGV[i]] = true end
end
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local id = all[i]
  if owner_of(all[i + 1]) == ARGV[1] and (wanted == nil or wanted[id]) then
    redis.call('HDEL', KEYS[1], id)
    if ARGV[3] == '0' and redis.call('HINCRBY', KEYS[4], id, -1) <= 0 then
      redis.call('HDEL', KEYS[4], id)
    end
    redis.call('ZADD', KEYS[3], -prio_of(KEYS[5], id), id)
    out[#out + 1] = id
  end
end
if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
if #out > 0 then wake(KEYS[6]) end
return out
"""

# KEYS: ready sched dead running msg prio deadinfo deliv ; ARGV: id
_REMOVE = """
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[4], id) == 1 then return 0 end
local n = redis.call('ZREM', KEYS[1], id) + redis.call('ZREM', KEYS[2], id)
  + redis.call('ZREM', KEYS[3], id)
if n == 0 then return 0 end
redis.call('HDEL', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
redis.call('HDEL', KEYS[8], id)
return 1
"""

# KEYS: dead deadinfo deliv ready prio wake ; ARGV: id
_RETRY_DEAD = """
local id = ARGV[1]
if redis.call('ZREM', KEYS[1], id) == 0 then return 0 end
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[3], id)
redis.call('ZADD', KEYS[4], -prio_of(KEYS[5], id), id)
wake(KEYS[6])
return 1
"""

# KEYS: zset msg prio deadinfo deliv ; ARGV: batch
_FLUSH = """
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('HDEL', KEYS[5], id)
end
return #ids
"""

# KEYS: events stats_minute_keys* ; ARGV: cap ttl_ms n_events events* (slot task count
# failures total max)*  -- slot = index of the row's minute key in KEYS (2-based)
_RECORD = """
local cap, ttl = tonumber(ARGV[1]), ARGV[2]
local n = tonumber(ARGV[3])
for i = 4, 3 + n do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'e', ARGV[i])
end
for i = 4 + n, #ARGV, 6 do
  local key, task = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  redis.call('HINCRBY', key, task .. '|count', ARGV[i + 2])
  redis.call('HINCRBY', key, task .. '|failures', ARGV[i + 3])
  redis.call('HINCRBYFLOAT', key, task .. '|total', ARGV[i + 4])
  local old = tonumber(redis.call('HGET', key, task .. '|max') or '0')
  if tonumber(ARGV[i + 5]) > old then redis.call('HSET', key, task .. '|max', ARGV[i + 5]) end
  redis.call('PEXPIRE', key, ttl)
end
"""

# KEYS: map ; ARGV: field value
_MAP_DELETE_IF_EQUAL = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: result waiter notify [own] ; ARGV: pop ttl_ms
# The result if it is there (taken when pop), else (ttl_ms > 0) register a waiter for
# finish to wake. Sent as one pipeline with a BLPOP on (own, notify) and a second call:
# a result found at once pushes a token to the caller's own key (no other waiter can
# take it), so that BLPOP returns at once.
_WAIT_RESULT = """
local v = redis.call('GET', KEYS[1])
if v then
  if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
  redis.call('DEL', KEYS[2], KEYS[3])
  if KEYS[4] then
    redis.call('LPUSH', KEYS[4], 1)
    redis.call('PEXPIRE', KEYS[4], 10000)
  end
  return v
end
if ARGV[2] ~= '0' then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return false
"""

# KEYS: key ; ARGV: value
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: key ; ARGV: ttl_ms
_INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
"""
