#!lua flags=allow-oom
-- KEYS: result waiter notify own...
-- ARGV: pop ttl_ms inbox...
-- The result if it is there (taken when pop = '1'), else (ttl_ms > 0) register a waiter
-- for finish to wake: '1' (finish pushes to notify), or the optional inbox, the list of
-- an event loop's awaits (storage/redis_await.py; finish pushes the result key there). Sent as one pipeline with a BLPOP on (own, notify) and a second
-- call: a result found at once pushes a token to the caller's own key (the optional
-- fourth key; no other waiter can take it), so that BLPOP returns at once. No lib: it
-- is sent whole as EVAL, so it stays small.
local result, waiter, notify = KEYS[1], KEYS[2], KEYS[3]
local pop, ttl_ms = ARGV[1], ARGV[2]
local own, inbox = KEYS[4], ARGV[3] or '1'

local v = redis.call('GET', result)
if v then
  if pop == '1' then redis.call('DEL', result) end
  redis.call('DEL', waiter, notify)
  if own then
    redis.call('LPUSH', own, 1)
    redis.call('PEXPIRE', own, 10000)
  end
  return v
end
if ttl_ms ~= '0' then redis.call('SET', waiter, inbox, 'PX', ttl_ms) end
return false
