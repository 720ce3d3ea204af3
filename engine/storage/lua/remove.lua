#!lua flags=allow-oom
-- KEYS: ready sched dead running msg prio deadinfo deliv
-- ARGV: id
-- Delete a task that is ready, scheduled, dead or parked (a body in no other place; its
-- id left on the parked list is skipped by unpark), not a running one: 1 if deleted.
local ready, sched, dead, running, msg, prio, deadinfo, deliv =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id = ARGV[1]

if redis.call('HEXISTS', running, id) == 1 then return 0 end
local n = redis.call('ZREM', ready, id) + redis.call('ZREM', sched, id)
  + redis.call('ZREM', dead, id)
if n == 0 and redis.call('HEXISTS', msg, id) == 0 then return 0 end
redis.call('HDEL', msg, id)
redis.call('HDEL', prio, id)
redis.call('HDEL', deadinfo, id)
redis.call('HDEL', deliv, id)
return 1
