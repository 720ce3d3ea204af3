#!lua flags=allow-oom
-- KEYS: ready msg running deliv leases watched sched prio wake
-- ARGV: consumer now limit lease clock
-- A consumer's round: promote due scheduled tasks, claim (when limit > 0), and return
-- (id data deliveries)* ready_left watched next_eta.
local ready, msg, running, deliv, leases, watched, sched, prio, wake =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local consumer, now, limit, lease, clock = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- #include lib

local due = redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', 0, 1000)
local places = {}
for _, id in ipairs(due) do
  redis.call('ZREM', sched, id)
  redis.call('ZADD', ready, at_back(ready, prio_of(prio, id), places), id)
end
local out = {}
if tonumber(limit) > 0 then
  out = claim(ready, msg, running, deliv, leases, consumer, now, limit, lease, clock)
end
if #due > 0 and redis.call('ZCARD', ready) > 0 then wake_up(wake) end
out[#out + 1] = redis.call('ZCARD', ready)
out[#out + 1] = redis.call('GET', watched)
local first = redis.call('ZRANGE', sched, 0, 0, 'WITHSCORES')
out[#out + 1] = first[2] or false
return out
