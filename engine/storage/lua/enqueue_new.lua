#!lua
-- KEYS: ready msg prio wake levels
-- ARGV: id priority data
-- The common case, one new task, in as few steps as it takes (so no lib): returns 1
-- when a body is already stored under the id (the caller then uses enqueue.lua), else 0.
-- The body goes to its bucket (or m:big), the id to the back of its level's list.
local ready, msg, prio, wake, levels = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, priority, data = ARGV[1], ARGV[2], ARGV[3]
-- #include bucket

-- The hash the body goes in, and the other one it may already be in.
local home, other = msg .. 'big', nil
if #id <= SMALL then
  other = msg .. bucket_of(id)
  if #data <= SMALL then home, other = other, home end
end
if other and redis.call('HEXISTS', other, id) == 1 then return 1 end
if redis.call('HSETNX', home, id, data) == 0 then return 1 end
local p = priority
if p ~= '0' then
  p = tostring(tonumber(p))  -- the level's one name (lib.lua's level())
  redis.call('HSET', prio, id, p)
end
if redis.call('RPUSH', ready .. p, id) == 1 then redis.call('ZADD', levels, -tonumber(p), p) end
if redis.call('LLEN', wake) < WAKE_CAP then redis.call('LPUSH', wake, '1') end
return 0
