#!lua flags=allow-oom
-- KEYS: pauses parked msg ready prio wake levels parkedin
-- ARGV: name check record
-- Resume a task name: delete its field of the pause map (only if it holds record, when
-- check = '1': else return false and move nothing) and move every call parked under it
-- to the back of its ready level, in the order parked. A call that left meanwhile
-- (deleted, enqueued again: no longer parked under name in parkedin) is skipped.
-- Returns how many moved.
local pauses, parked, msg, ready, prio, wake, levels, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local name, check, record = ARGV[1], ARGV[2], ARGV[3]
-- #include lib

if check == '1' and redis.call('HGET', pauses, name) ~= record then return false end
redis.call('HDEL', pauses, name)
local ids = redis.call('LRANGE', parked, 0, -1)
redis.call('DEL', parked)
local moving = {}
for _, id in ipairs(ids) do
  if redis.call('HGET', parkedin, id) == name then
    redis.call('HDEL', parkedin, id)
    if body_exists(msg, id) then moving[#moving + 1] = id end
  end
end
to_back(ready, levels, prio, moving)
if #moving > 0 then wake_up(wake) end
return #moving
