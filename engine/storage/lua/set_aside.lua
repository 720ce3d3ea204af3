#!lua flags=allow-oom
-- KEYS: running msg deliv prio dead deadinfo
-- ARGV: consumer now dead_cap dead_cap_bytes (id new_id reason error)...
-- Dead-letter running tasks of the consumer that cannot be handed to a task (an id that
-- is not UTF-8): each leaves running under id and is kept in the dead set under new_id
-- (a readable stand-in) with its body and the reason. Returns how many were set aside.
local running, msg, deliv, prio, dead, deadinfo =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local consumer, now, dead_cap, dead_cap_bytes = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- #include lib

local n, added = 0, 0
for i = 5, #ARGV, 4 do
  local id, new_id = ARGV[i], ARGV[i + 1]
  local v = redis.call('HGET', running, id)
  if v and owner_of(v) == consumer then
    redis.call('HDEL', running, id)
    local data = body_get(msg, id) or ''
    body_del(msg, id)
    redis.call('HDEL', deliv, id)
    redis.call('HDEL', prio, id)
    body_put(msg, new_id, data)
    redis.call('ZADD', dead, now, new_id)
    redis.call('HSET', deadinfo, new_id, ARGV[i + 2] .. '\n' .. ARGV[i + 3])
    added = added + #data
    n = n + 1
  end
end
if n > 0 then
  trim_dead(dead, deadinfo, msg, prio, tonumber(dead_cap), deliv, tonumber(dead_cap_bytes), added)
end
return n
