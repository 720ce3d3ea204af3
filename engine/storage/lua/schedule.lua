#!lua
-- KEYS: sched msg prio wake ready dead deadinfo running deliv parkedin
-- ARGV: (id priority eta data)...
-- Store each task and put it on the scheduled set at its eta; an id stored before
-- leaves wherever it was. Returns the first id that is running now (and writes
-- nothing), or false.
local sched, msg, prio, wake, ready, dead, deadinfo, running, deliv, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
-- #include lib

for i = 1, #ARGV, 4 do
  if redis.call('HEXISTS', running, ARGV[i]) == 1 then return ARGV[i] end
end
for i = 1, #ARGV, 4 do
  local id, p = ARGV[i], level(ARGV[i + 1])
  local old = body_exists(msg, id)
  if old then leave(ready, prio, sched, dead, deadinfo, parkedin, id) end
  redis.call('HDEL', deliv, id)
  body_put(msg, id, ARGV[i + 3], not old)
  set_prio(prio, id, p)
  redis.call('ZADD', sched, ARGV[i + 2], id)
end
wake_up(wake)
return false
