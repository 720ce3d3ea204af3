#!lua flags=allow-oom
-- KEYS: map
-- ARGV: field value
-- Set the map's field: a consumer's registry entry, a few hundred bytes overwritten each
-- beat, written even when Redis is full so that status shows the consumer and why it
-- claims nothing new.
local map = KEYS[1]
local field, value = ARGV[1], ARGV[2]

return redis.call('HSET', map, field, value)
