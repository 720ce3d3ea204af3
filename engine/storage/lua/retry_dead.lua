#!lua
-- KEYS: dead deadinfo deliv ready prio wake levels
-- ARGV: id
-- Put a dead task at the back of its ready level with its delivery count reset: 1 if
-- it was dead.
local dead, deadinfo, deliv, ready, prio, wake, levels =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
-- #include lib

if redis.call('ZREM', dead, id) == 0 then return 0 end
redis.call('HDEL', deadinfo, id)
redis.call('HDEL', deliv, id)
ready_push_back(ready, levels, prio_of(prio, id), id)
wake_up(wake)
return 1
