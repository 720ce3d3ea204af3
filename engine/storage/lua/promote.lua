#!lua flags=allow-oom
-- KEYS: sched ready prio wake
-- ARGV: now limit
-- Move up to limit scheduled tasks that are due to the ready queue; returns their ids.
local sched, ready, prio, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, limit = ARGV[1], ARGV[2]
-- #include lib

local ids = redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', 0, limit)
local places = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', sched, id)
  redis.call('ZADD', ready, at_back(ready, prio_of(prio, id), places), id)
end
if #ids > 0 then wake_up(wake) end
return ids
