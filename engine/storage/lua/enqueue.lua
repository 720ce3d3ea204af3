#!lua
-- KEYS: ready msg prio wake sched dead deadinfo running deliv
-- ARGV: (id priority data)...
-- Store each task and put it on the ready queue; an id stored before leaves wherever
-- it was. Returns the first id that is running now (and writes nothing), or false.
local ready, msg, prio, wake, sched, dead, deadinfo, running, deliv =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
-- #include lib

-- Fast path: every id is new (no body stored under it anywhere).
local fresh = true
for i = 1, #ARGV, 3 do
  if redis.call('HEXISTS', msg, ARGV[i]) == 1 then
    fresh = false
    if redis.call('HEXISTS', running, ARGV[i]) == 1 then return ARGV[i] end
  end
end
local places = {}
for i = 1, #ARGV, 3 do
  local id, p = ARGV[i], tonumber(ARGV[i + 1])
  if not fresh then
    forget(sched, dead, deadinfo, id)
    redis.call('HDEL', deliv, id)
    redis.call('HDEL', prio, id)
  end
  redis.call('HSET', msg, id, ARGV[i + 2])
  if p ~= 0 then redis.call('HSET', prio, id, p) end
  redis.call('ZADD', ready, at_back(ready, p, places), id)
end
wake_up(wake)
return false
