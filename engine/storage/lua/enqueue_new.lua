#!lua
-- KEYS: ready msg prio wake
-- ARGV: id priority data
-- The common case, one new task, in as few steps as it takes (so no lib): returns 1
-- when a body is already stored under the id (the caller then uses enqueue.lua), else 0.
local ready, msg, prio, wake = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, priority, data = ARGV[1], ARGV[2], ARGV[3]
-- #include lib

if redis.call('HSETNX', msg, id, data) == 0 then return 1 end
local p = tonumber(priority)
if p ~= 0 then redis.call('HSET', prio, id, p) end
redis.call('ZADD', ready, at_back(ready, p), id)
if redis.call('LLEN', wake) < WAKE_CAP then redis.call('LPUSH', wake, 1) end
return 0
