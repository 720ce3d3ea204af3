#!lua
-- KEYS: events minutes...
-- ARGV: cap ttl_ms n_events events... (slot task count failures total max)...
-- Append n_events events to the stream (trimmed to about cap) and add statistics rows
-- to per-minute hashes that expire after ttl_ms; slot is the KEYS index of the row's
-- minute key (2 and up). O(events + rows): the caller sends a bounded batch a call
-- (RedisStorage.record), so no call holds the server for long. A failures count of 0
-- is not written (readers take a missing one as 0); each minute key is expired once.
local events = KEYS[1]
local cap, ttl_ms, n_events = ARGV[1], ARGV[2], ARGV[3]

local n, maxlen = tonumber(n_events), tonumber(cap)
for i = 4, 3 + n do
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'e', ARGV[i])
end
local expired = {}
for i = 4 + n, #ARGV, 6 do
  local slot, task = tonumber(ARGV[i]), ARGV[i + 1]
  local key = KEYS[slot]
  redis.call('HINCRBY', key, task .. '|count', ARGV[i + 2])
  if ARGV[i + 3] ~= '0' then redis.call('HINCRBY', key, task .. '|failures', ARGV[i + 3]) end
  redis.call('HINCRBYFLOAT', key, task .. '|total', ARGV[i + 4])
  local old = tonumber(redis.call('HGET', key, task .. '|max') or '0')
  if tonumber(ARGV[i + 5]) > old then redis.call('HSET', key, task .. '|max', ARGV[i + 5]) end
  if not expired[slot] then
    redis.call('PEXPIRE', key, ttl_ms)
    expired[slot] = true
  end
end
