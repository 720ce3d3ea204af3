#!lua
-- KEYS: key
-- ARGV: ttl_ms
-- Add 1 to a counter that expires ttl_ms after it was created; returns the new value.
local key = KEYS[1]
local ttl_ms = ARGV[1]

local v = redis.call('INCR', key)
if v == 1 then redis.call('PEXPIRE', key, ttl_ms) end
return v
