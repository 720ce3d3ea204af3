#!lua flags=allow-oom
-- KEYS: sched ready prio wake levels
-- ARGV: now limit
-- Move up to limit scheduled tasks that are due to the back of their ready levels (in
-- eta order); returns their ids.
local sched, ready, prio, wake, levels = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, limit = ARGV[1], ARGV[2]
-- #include lib

local ids = redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', 0, limit)
if #ids == 0 then return ids end
zrem_all(sched, ids)
to_back(ready, levels, prio, ids)
wake_up(wake)
return ids
