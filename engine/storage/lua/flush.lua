#!lua flags=allow-oom
-- KEYS: zset ready levels msg prio deadinfo deliv
-- ARGV: lists batch
-- Delete up to batch tasks of one state with everything stored about them: the ready
-- ones (lists = '1': off the front of the ready lists, highest level first) or those
-- of the zset (sched or dead). Returns how many (the caller repeats until 0).
local zset, ready, levels, msg, prio, deadinfo, deliv =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local lists, batch = ARGV[1], ARGV[2]
-- #include lib

local ids = {}
if lists == '1' then
  for _, p in ipairs(redis.call('ZRANGE', levels, 0, -1)) do
    local got = redis.call('LPOP', ready .. p, tonumber(batch))
    if got then
      ids = got
      break
    end
    redis.call('ZREM', levels, p)
  end
else
  ids = redis.call('ZRANGE', zset, 0, tonumber(batch) - 1)
  zrem_all(zset, ids)
end
for _, id in ipairs(ids) do
  body_del(msg, id)
  redis.call('HDEL', prio, id)
  redis.call('HDEL', deadinfo, id)
  redis.call('HDEL', deliv, id)
end
return #ids
