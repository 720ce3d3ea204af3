#!lua
-- KEYS: ready msg prio wake sched dead deadinfo running deliv levels parkedin
-- ARGV: (id priority data)...
-- Store each task and put it at the back of its level; an id stored before leaves
-- wherever it was. Returns the first id that is running now (and writes nothing), or false.
local ready, msg, prio, wake, sched, dead, deadinfo, running, deliv, levels, parkedin =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10],
  KEYS[11]
-- #include lib

-- Fast path: every id is new (no body stored under it anywhere).
local fresh = true
for i = 1, #ARGV, 3 do
  if body_exists(msg, ARGV[i]) then
    fresh = false
    if redis.call('HEXISTS', running, ARGV[i]) == 1 then return ARGV[i] end
  end
end
local seen = {}  -- ids this call stored already (an id twice in one call)
for i = 1, #ARGV, 3 do
  local id, p = ARGV[i], level(ARGV[i + 1])
  local old = seen[id] or ((not fresh) and body_exists(msg, id))
  if old then
    leave(ready, prio, sched, dead, deadinfo, parkedin, id)
    redis.call('HDEL', deliv, id)
    redis.call('HDEL', prio, id)
  end
  body_put(msg, id, ARGV[i + 2], not old)
  seen[id] = true
  if p ~= '0' then redis.call('HSET', prio, id, p) end
  ready_push_back(ready, levels, p, id)
end
wake_up(wake)
return false
