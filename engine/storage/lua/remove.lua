#!lua flags=allow-oom
-- KEYS: ready sched dead running msg prio deadinfo deliv parkedin
-- ARGV: id
-- Delete a task that is ready, scheduled, dead or parked (its id left on the parked list
-- is skipped by unpark), not a running one: 1 if deleted. A ready one leaves its list
-- with an LREM (O(n) of its level).
local ready, sched, dead, running, msg, prio, deadinfo, deliv, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id = ARGV[1]
-- #include lib

if redis.call('HEXISTS', running, id) == 1 then return 0 end
local n = redis.call('ZREM', sched, id) + redis.call('ZREM', dead, id)
  + redis.call('HDEL', parkedin, id)
if n == 0 then
  if not body_exists(msg, id) then return 0 end
  ready_remove(ready, prio, id)
end
body_del(msg, id)
redis.call('HDEL', prio, id)
redis.call('HDEL', deadinfo, id)
redis.call('HDEL', deliv, id)
return 1
