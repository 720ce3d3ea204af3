#!lua flags=allow-oom
-- KEYS: running msg deliv leases ready sched prio dead deadinfo wake done_a done_b done_gen levels parkedin tasks...
-- ARGV: consumer n_tasks clock done_cap tasks...
-- Finish a batch of one consumer's tasks, as if one after another. Each task's ARGV
-- entries, and its own KEYS after the fifteen above, are laid out by FINISH_PLAIN or
-- FINISH_TASK in engine/storage/redis_scripts.py, which also writes the `-- #layout` and
-- `-- #item` lines below into locals. Returns, per task, false or why it was refused (a refused
-- task writes nothing). NOT_RUNNING, NOT_OWNER and LEASE_LOST come from storage/base.py.
-- Leases are checked against the server's clock (clock = 'server'), else each task's now.
-- The tasks' finished records (when given) go, in one HSET per call, to the hash
-- done_gen names (done_a or done_b); once that holds done_cap records the other one is
-- emptied and named: the generation before goes.
local running, msg, deliv, leases, ready, sched, prio, dead, deadinfo, wake, done_a, done_b, done_gen, levels, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10],
  KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local consumer, n_tasks, clock, done_cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- The finished records of this call (id, record, ...): one HSET at the end.
local kept = {}
-- #include lib
-- A result key's waiter and notify keys are the result key with these suffixes
-- (_WAITER and _NOTIFY in engine/storage/redis_scripts.py): made here, not sent in KEYS
-- (they share the result key's hash tag, so its slot).
local WAITER, NOTIFY = '\0waiter', '\0notify'
local lease_now = clock == 'server' and server_now() or nil
-- The consumer's lease end (false: none), read at its first task: no write of this script
-- moves it, so one ZSCORE serves the batch.
local lease_end = nil

-- Each task's record starts with its kind: 'p' for a plain success (no dead letter,
-- nothing to enqueue or schedule), laid out by FINISH_PLAIN, else 'f' and FINISH_TASK.
-- The running entries of the batch's tasks are read with one HMGET up front: no write
-- of this script changes running but a task's own HDEL, so an id met again after its
-- task was finished (gone) is refused as it would be one task at a time.
local ids, at_i, at_k, full = {}, {}, {}, {}
do
  local i, k = 5, 16
  for t = 1, tonumber(n_tasks) do
    local j = i + 1
    at_i[t], at_k[t] = j, k
    if ARGV[i] == 'p' then
      -- #layout FINISH_PLAIN j k
      ids[t], i, k = id, next_i, next_k
    else
      -- #layout FINISH_TASK j k
      ids[t], i, k = id, next_i, next_k
      full[t] = true
    end
  end
end
local entries, gone = hmget_all(running, ids), {}

-- A plain success is deferred: its deletions, results and wake-ups wait in these lists
-- and go out in one command per hash (flush) before the next task that is not plain,
-- and at the end. Plain tasks' writes touch only their own fields and results, so the
-- order among them does not show, and the flush before any other task keeps everything
-- else in order.
local plain, sets, waits = {}, {}, {}

-- Wake whoever waits for a result just stored. A blocking reader (wait_result) set the
-- waiter to '1' and BLPOPs the notify list; an event loop's awaits
-- (storage/redis_await.py) set it to the name of their inbox, a list in this queue's
-- hash tag, which gets the result's key. (The inbox is not in KEYS: awaits use one only
-- outside Redis Cluster.)
local function wake_waiter(w, waiter, result)
  redis.call('DEL', waiter)
  local to, token = result .. NOTIFY, '1'
  if w ~= '1' then to, token = w, result end
  redis.call('LPUSH', to, token)
  redis.call('PEXPIRE', to, '60000')
end

-- gen: also read done_gen (with the waiters, in one MGET) and return it.
local function flush(gen)
  if #plain > 0 then
    hdel_all(running, plain)
    hdel_all(deliv, plain)
    local big = {}
    for _, x in ipairs(plain) do
      if #x > SMALL or redis.call('HDEL', bucket_key(msg, x), x) == 0 then big[#big + 1] = x end
    end
    if #big > 0 then hdel_all(msg .. 'big', big) end
    hdel_all(prio, plain)
    plain = {}
  end
  for s = 1, #sets, 1000 do redis.call('MSET', unpack(sets, s, math.min(s + 999, #sets))) end
  sets = {}
  local g
  if #waits > 0 or gen then
    -- waits: the result keys stored; a waiter named twice is woken once, as the first
    -- wake-up deletes it. (No wake-up writes done_gen: read after them or before, the
    -- same.)
    local names, woken, nw = {}, {}, #waits
    for w = 1, nw do names[w] = waits[w] .. WAITER end
    if gen then names[nw + 1] = done_gen end
    for s = 1, #names, 1000 do
      local got = redis.call('MGET', unpack(names, s, math.min(s + 999, #names)))
      for j = 1, #got do
        local n = s + j - 1
        local waiter = names[n]
        if n > nw then
          g = got[j]
        elseif got[j] and not woken[waiter] then
          woken[waiter] = true
          wake_waiter(got[j], waiter, waits[n])
        end
      end
    end
    waits = {}
  end
  return g
end

-- Why task t (id, finished at now) is refused, or false: then it is gone.
local function refused(t, id, now)
  local v = entries[t]
  if not v or gone[id] then return NOT_RUNNING end
  if not held_by(v, consumer) then return NOT_OWNER end
  if lease_end == nil then
    local z = redis.call('ZSCORE', leases, consumer)
    lease_end = z and z + 0 or false
  end
  if (not lease_end) or lease_end < (lease_now or tonumber(now)) then return LEASE_LOST end
  gone[id] = true
  return false
end

-- Finish task t, whose record starts at ARGV[i] (after its kind) and whose own KEYS
-- start at k; returns false or the refusal.
local function finish_plain(t, i, k)
  -- #layout FINISH_PLAIN i k
  local no = refused(t, id, now)
  if no then return no end
  if finished ~= '' then
    kept[#kept + 1] = id
    kept[#kept + 1] = finished
  end
  plain[#plain + 1] = id
  for r = 0, results_n - 1 do
    -- #item FINISH_PLAIN results r
    if ttl_ms ~= '0' then
      redis.call('SET', result, value, 'PX', ttl_ms)
    else
      sets[#sets + 1] = result
      sets[#sets + 1] = value
    end
    waits[#waits + 1] = result
  end
  return false
end

-- A task that is not a plain success takes this path, made only when the batch has one:
-- each function a script defines is made anew at every call, and most batches are all
-- plain. (The lib functions only this path uses are included here, for the same reason.)
local finish_full
if next(full) then
  -- #include lib
  finish_full = function(t, i, k)
    -- #layout FINISH_TASK i k
    local no = refused(t, id, now)
    if no then return no end
    if finished ~= '' and dead_reason == '' then
      kept[#kept + 1] = id
      kept[#kept + 1] = finished
    end
    flush()
    redis.call('HDEL', running, id)
    if dead_reason ~= '' then
      if dead_data ~= '' then body_put(msg, id, dead_data) end
      redis.call('ZADD', dead, now, id)
      redis.call('HSET', deadinfo, id, dead_reason .. '\n' .. dead_error)
      trim_dead(dead, deadinfo, msg, prio, tonumber(dead_cap), deliv,
        tonumber(dead_cap_bytes), body_len(msg, id))
    else
      redis.call('HDEL', deliv, id)
      body_del(msg, id)
      redis.call('HDEL', prio, id)
    end
    for r = 0, results_n - 1 do
      -- #item FINISH_TASK results r
      if ttl_ms ~= '0' then
        redis.call('SET', result, value, 'PX', ttl_ms)
      else
        redis.call('SET', result, value)
      end
      local waiter = result .. WAITER
      local w = redis.call('GET', waiter)
      if w then wake_waiter(w, waiter, result) end
    end
    for e = 0, enqueue_n - 1 do
      -- #item FINISH_TASK enqueue e
      local p = level(new_priority)
      local old = body_exists(msg, new_id)
      if old then leave(ready, prio, sched, dead, deadinfo, parkedin, new_id) end
      body_put(msg, new_id, new_data, not old)
      set_prio(prio, new_id, p)
      ready_push_back(ready, levels, p, new_id)
    end
    for s = 0, schedule_n - 1 do
      -- #item FINISH_TASK schedule s
      local p = level(new_priority)
      local old = body_exists(msg, new_id)
      if old then leave(ready, prio, sched, dead, deadinfo, parkedin, new_id) end
      body_put(msg, new_id, new_data, not old)
      set_prio(prio, new_id, p)
      redis.call('ZADD', sched, new_eta, new_id)
    end
    if enqueue_n + schedule_n > 0 then wake_up(wake) end
    return false
  end
end

local out = {}
for t = 1, #ids do
  if full[t] then
    out[t] = finish_full(t, at_i[t], at_k[t])
  else
    out[t] = finish_plain(t, at_i[t], at_k[t])
  end
end
local gen = flush(#kept > 0)
if #kept > 0 then
  local done = gen == 'b' and done_b or done_a
  redis.call('HSET', done, unpack(kept))
  if redis.call('HLEN', done) >= tonumber(done_cap) then
    local other = done == done_a and done_b or done_a
    redis.call('UNLINK', other)
    redis.call('SET', done_gen, other == done_b and 'b' or 'a')
  end
end
return out
