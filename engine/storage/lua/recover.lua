#!lua flags=allow-oom
-- KEYS: running leases ready deliv dead deadinfo msg prio wake levels
-- ARGV: now max_deliveries dead_cap dead_cap_bytes clock
-- Hand back the tasks of consumers whose lease ended before now: to the front of their
-- ready levels (in id order), or to the dead set once delivered max_deliveries times.
-- Drops the ended leases.
-- Leases are reckoned on the server's clock (clock = 'server'), else on now.
-- Returns {requeued ids, dead ids}.
local running, leases, ready, deliv, dead, deadinfo, msg, prio, wake, levels =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local now, max_deliveries, dead_cap, dead_cap_bytes, clock =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- #include lib

local now_n = tonumber(now)
local lease_now = now_n
if clock == 'server' then lease_now = server_now() end
local added = 0
local all = redis.call('HGETALL', running)
local requeued, buried, alive = {}, {}, {}
for i = 1, #all, 2 do
  local id = all[i]
  local owner = owner_of(all[i + 1])
  local ok = alive[owner]
  if ok == nil then
    local lease = redis.call('ZSCORE', leases, owner)
    ok = (lease ~= false) and tonumber(lease) >= lease_now
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
      added = added + body_len(msg, id)
    else
      requeued[#requeued + 1] = id
    end
  end
end
to_front(ready, levels, prio, requeued)
redis.call('ZREMRANGEBYSCORE', leases, '-inf', '(' .. lease_now)
if #buried > 0 then
  trim_dead(dead, deadinfo, msg, prio, tonumber(dead_cap), deliv, tonumber(dead_cap_bytes), added)
end
if #requeued > 0 then wake_up(wake) end
return {requeued, buried}
