#!lua flags=allow-oom
-- KEYS: zset msg prio deadinfo deliv
-- ARGV: batch
-- Delete up to batch tasks of one state (zset: ready, sched or dead) with everything
-- stored about them; returns how many (the caller repeats until 0).
local zset, msg, prio, deadinfo, deliv = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local batch = ARGV[1]

local ids = redis.call('ZRANGE', zset, 0, tonumber(batch) - 1)
for _, id in ipairs(ids) do
  redis.call('ZREM', zset, id)
  redis.call('HDEL', msg, id)
  redis.call('HDEL', prio, id)
  redis.call('HDEL', deadinfo, id)
  redis.call('HDEL', deliv, id)
end
return #ids
