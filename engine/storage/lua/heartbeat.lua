#!lua flags=allow-oom
-- KEYS: leases
-- ARGV: consumer now lease clock
-- Renew the consumer's lease to lease seconds after now, or after the server's clock
-- (clock = 'server'). Returns the server's clock as {seconds, microseconds}, so the
-- caller can tell how far its own clock is off.
local leases = KEYS[1]
local consumer, now, lease, clock = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local t = redis.call('TIME')
local base = tonumber(now)
if clock == 'server' then base = tonumber(t[1]) + tonumber(t[2]) / 1000000 end
redis.call('ZADD', leases, base + tonumber(lease), consumer)
return t
