#!lua
-- KEYS: ready msg prio wake sched dead deadinfo unique levels parkedin
-- ARGV: ttl_ms id priority data
-- Enqueue the task only if no task holds the unique key (which then expires after
-- ttl_ms): returns 1 when enqueued, 0 when the key was taken.
local ready, msg, prio, wake, sched, dead, deadinfo, unique, levels, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local ttl_ms, id, priority, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- #include lib

if not redis.call('SET', unique, '1', 'NX', 'PX', ttl_ms) then return 0 end
local p = level(priority)
local old = body_exists(msg, id)
if old then leave(ready, prio, sched, dead, deadinfo, parkedin, id) end
body_put(msg, id, data, not old)
if old then set_prio(prio, id, p) elseif p ~= '0' then redis.call('HSET', prio, id, p) end
ready_push_back(ready, levels, p, id)
wake_up(wake)
return 1
