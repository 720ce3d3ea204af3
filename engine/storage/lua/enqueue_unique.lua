#!lua
-- KEYS: ready msg prio wake sched dead deadinfo unique
-- ARGV: ttl_ms id priority data
-- Enqueue the task only if no task holds the unique key (which then expires after
-- ttl_ms): returns 1 when enqueued, 0 when the key was taken.
local ready, msg, prio, wake, sched, dead, deadinfo, unique =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local ttl_ms, id, priority, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- #include lib

if not redis.call('SET', unique, '1', 'NX', 'PX', ttl_ms) then return 0 end
local p = tonumber(priority)
forget(sched, dead, deadinfo, id)
redis.call('HSET', msg, id, data)
if p ~= 0 then redis.call('HSET', prio, id, p) end
redis.call('ZADD', ready, at_back(ready, p), id)
wake_up(wake)
return 1
