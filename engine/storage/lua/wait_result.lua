#!lua flags=allow-oom
-- KEYS: result waiter notify own...
-- ARGV: pop ttl_ms inbox...
-- The result if it is there (taken when pop = '1'), else (ttl_ms > 0) register a waiter
-- for finish to wake: '1' (finish pushes to notify), or the optional inbox, the list of
-- an event loop's awaits (storage/redis_await.py; finish pushes the result key there).
-- The blocking read (RedisStorage.wait_result) sends it as EVALSHA in one pipeline:
-- LPUSH own, this script, BLPOP (own, notify), this script again. The token pushed to
-- own (the optional fourth key, a list no other waiter knows) is taken back here when
-- nothing is found, so the BLPOP waits for finish; a result found at once, or a server
-- that forgot the script (NOSCRIPT, nothing ran), leaves it, so the BLPOP returns at once.
local result, waiter, notify = KEYS[1], KEYS[2], KEYS[3]
local pop, ttl_ms = ARGV[1], ARGV[2]
local own, inbox = KEYS[4], ARGV[3] or '1'

local v = redis.call('GET', result)
if v then
  if pop == '1' then redis.call('DEL', result) end
  redis.call('DEL', waiter, notify)
  return v
end
if own then redis.call('DEL', own) end
if ttl_ms ~= '0' then redis.call('SET', waiter, inbox, 'PX', ttl_ms) end
return false
