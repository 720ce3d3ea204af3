#!lua flags=allow-oom
-- KEYS: map
-- ARGV: field value
-- Delete the map's field if it holds value: 1 if deleted.
local map = KEYS[1]
local field, value = ARGV[1], ARGV[2]

if redis.call('HGET', map, field) == value then
  return redis.call('HDEL', map, field)
end
return 0
