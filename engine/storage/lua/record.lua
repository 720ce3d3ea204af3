#!lua
-- KEYS: events minutes...
-- ARGV: cap ttl_ms n_events events... (slot task count failures total max)...
-- Append n_events events to the stream (trimmed to about cap) and add statistics rows
-- to per-minute hashes that expire after ttl_ms; slot is the KEYS index of the row's
-- minute key (2 and up).
local events = KEYS[1]
local cap, ttl_ms, n_events = ARGV[1], ARGV[2], ARGV[3]

local n = tonumber(n_events)
for i = 4, 3 + n do
  redis.call('XADD', events, 'MAXLEN', '~', tonumber(cap), '*', 'e', ARGV[i])
end
for i = 4 + n, #ARGV, 6 do
  local key, task = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  redis.call('HINCRBY', key, task .. '|count', ARGV[i + 2])
  redis.call('HINCRBY', key, task .. '|failures', ARGV[i + 3])
  redis.call('HINCRBYFLOAT', key, task .. '|total', ARGV[i + 4])
  local old = tonumber(redis.call('HGET', key, task .. '|max') or '0')
  if tonumber(ARGV[i + 5]) > old then redis.call('HSET', key, task .. '|max', ARGV[i + 5]) end
  redis.call('PEXPIRE', key, ttl_ms)
end
