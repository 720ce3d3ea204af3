-- KEYS: running leases ready deliv dead deadinfo msg prio wake
-- ARGV: now max_deliveries dead_cap
-- Hand back the tasks of consumers whose lease ended before now: to the ready queue,
-- or to the dead set once delivered max_deliveries times. Drops the ended leases.
-- Returns {requeued ids, dead ids}.
local running, leases, ready, deliv, dead, deadinfo, msg, prio, wake =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local now, max_deliveries, dead_cap = ARGV[1], ARGV[2], ARGV[3]
-- #include lib

local now_n = tonumber(now)
local all = redis.call('HGETALL', running)
local requeued, buried, alive = {}, {}, {}
for i = 1, #all, 2 do
  local id = all[i]
  local owner = owner_of(all[i + 1])
  local ok = alive[owner]
  if ok == nil then
    local lease = redis.call('ZSCORE', leases, owner)
    ok = (lease ~= false) and tonumber(lease) >= now_n
    alive[owner] = ok
  end
  if not ok then
    redis.call('HDEL', running, id)
    local d = tonumber(redis.call('HGET', deliv, id) or '0')
    if d >= tonumber(max_deliveries) then
      redis.call('ZADD', dead, now_n, id)
      redis.call('HSET', deadinfo, id,
        'poison\ndelivered ' .. d .. ' times without finishing')
      buried[#buried + 1] = id
    else
      requeued[#requeued + 1] = id
    end
  end
end
to_front(ready, prio, requeued)
redis.call('ZREMRANGEBYSCORE', leases, '-inf', '(' .. now)
if #buried > 0 then trim_dead(dead, deadinfo, msg, prio, tonumber(dead_cap), deliv) end
if #requeued > 0 then wake_up(wake) end
return {requeued, buried}
