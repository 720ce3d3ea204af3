#!lua flags=allow-oom
-- KEYS: running deliv pauses parked ready prio wake levels parkedin
-- ARGV: consumer name task_ids...
-- Set aside the consumer's running tasks task_ids (calls of the paused task name) on
-- the parked list (and in parkedin: id -> name), their delivery not counted; if the
-- pause map has no field name any more (resumed meanwhile), hand them back to the
-- front of the ready levels instead. Returns the ids parked.
local running, deliv, pauses, parked, ready, prio, wake, levels, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local consumer, name = ARGV[1], ARGV[2]
-- #include lib

local mine, seen = {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local v = redis.call('HGET', running, id)
  if v and not seen[id] and owner_of(v) == consumer then
    seen[id] = true
    redis.call('HDEL', running, id)
    if redis.call('HINCRBY', deliv, id, -1) <= 0 then redis.call('HDEL', deliv, id) end
    mine[#mine + 1] = id
  end
end
if #mine == 0 then return {} end
if redis.call('HEXISTS', pauses, name) == 0 then
  to_front(ready, levels, prio, mine)
  wake_up(wake)
  return {}
end
redis.call('RPUSH', parked, unpack(mine))
for _, id in ipairs(mine) do redis.call('HSET', parkedin, id, name) end
return mine
