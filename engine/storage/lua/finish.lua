#!lua flags=allow-oom
-- KEYS: running msg deliv leases ready sched prio dead deadinfo wake done_a done_b done_gen levels parkedin tasks...
-- ARGV: consumer n_tasks clock done_cap tasks...
-- Finish a batch of one consumer's tasks, one after another. Each task's ARGV entries,
-- and its own KEYS after the fifteen above, are laid out by FINISH_TASK in
-- engine/storage/redis_scripts.py, which also writes the `-- #layout` and `-- #item`
-- lines below into locals. Returns, per task, false or why it was refused (a refused
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
local lease_now = clock == 'server' and server_now() or nil

-- Finish the task whose ARGV start at i and whose own KEYS start at k; returns false
-- or the refusal, and where the next task starts in ARGV and in KEYS.
local function finish_one(i, k)
  -- #layout FINISH_TASK i k
  local v = redis.call('HGET', running, id)
  if not v then return NOT_RUNNING, next_i, next_k end
  if owner_of(v) ~= consumer then return NOT_OWNER, next_i, next_k end
  local lease = redis.call('ZSCORE', leases, consumer)
  if (not lease) or tonumber(lease) < (lease_now or tonumber(now)) then return LEASE_LOST, next_i, next_k end
  redis.call('HDEL', running, id)
  if dead_reason ~= '' then
    if dead_data ~= '' then body_put(msg, id, dead_data) end
    redis.call('ZADD', dead, now, id)
    redis.call('HSET', deadinfo, id, dead_reason .. '\n' .. dead_error)
    trim_dead(dead, deadinfo, msg, prio, tonumber(dead_cap), deliv,
      tonumber(dead_cap_bytes), body_len(msg, id))
  else
    if finished ~= '' then
      kept[#kept + 1] = id
      kept[#kept + 1] = finished
    end
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
    -- Someone waits for this result: wake them. A blocking reader (wait_result) set the
    -- waiter to '1' and BLPOPs the notify list; an event loop's awaits
    -- (storage/redis_await.py) set it to the name of their inbox, a list in this
    -- queue's hash tag, which gets the result's key. (The inbox is not in KEYS: awaits
    -- use one only outside Redis Cluster.)
    local w = redis.call('GET', waiter)
    if w then
      redis.call('DEL', waiter)
      local to, token = notify, 1
      if w ~= '1' then to, token = w, result end
      redis.call('LPUSH', to, token)
      redis.call('PEXPIRE', to, 60000)
    end
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
  return false, next_i, next_k
end

local out, i, k = {}, 5, 16
for t = 1, tonumber(n_tasks) do
  out[t], i, k = finish_one(i, k)
end
if #kept > 0 then
  local done = redis.call('GET', done_gen) == 'b' and done_b or done_a
  redis.call('HSET', done, unpack(kept))
  if redis.call('HLEN', done) >= tonumber(done_cap) then
    local other = done == done_a and done_b or done_a
    redis.call('UNLINK', other)
    redis.call('SET', done_gen, other == done_b and 'b' or 'a')
  end
end
return out
