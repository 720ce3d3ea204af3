#!lua flags=allow-oom
-- KEYS: key
-- ARGV: value
-- Delete the key if it holds value (a lock's owner letting go): 1 if deleted.
local key = KEYS[1]
local value = ARGV[1]

if redis.call('GET', key) == value then return redis.call('DEL', key) end
return 0
