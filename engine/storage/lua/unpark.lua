#!lua flags=allow-oom
-- KEYS: pauses parked msg ready prio wake
-- ARGV: name check record
-- Resume a task name: delete its field of the pause map (only if it holds record, when
-- check = '1': else return false and move nothing) and move every call parked under it
-- to the back of the ready queue, in the order parked (a call deleted meanwhile, no
-- longer in msg, is skipped). Returns how many moved.
local pauses, parked, msg, ready, prio, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local name, check, record = ARGV[1], ARGV[2], ARGV[3]
-- #include lib

if check == '1' and redis.call('HGET', pauses, name) ~= record then return false end
redis.call('HDEL', pauses, name)
local ids = redis.call('LRANGE', parked, 0, -1)
redis.call('DEL', parked)
local places, moved = {}, 0
for _, id in ipairs(ids) do
  if redis.call('HEXISTS', msg, id) == 1 then
    redis.call('ZADD', ready, at_back(ready, prio_of(prio, id), places), id)
    moved = moved + 1
  end
end
if moved > 0 then wake_up(wake) end
return moved
