#!lua flags=allow-oom
-- KEYS: running leases ready deliv prio wake levels
-- ARGV: consumer all count task_ids...
-- Put the consumer's running tasks back at the front of their ready levels, in id
-- order: all of them (all = '1', which also drops its lease) or those in task_ids.
-- Unless count = '1', the delivery is not counted. Returns the ids put back.
local running, leases, ready, deliv, prio, wake, levels =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local consumer, all, count = ARGV[1], ARGV[2], ARGV[3]
-- #include lib

local wanted = nil
if all == '0' then
  wanted = {}
  for i = 4, #ARGV do wanted[ARGV[i]] = true end
end
local entries = redis.call('HGETALL', running)
local out = {}
for i = 1, #entries, 2 do
  local id = entries[i]
  if owner_of(entries[i + 1]) == consumer and (wanted == nil or wanted[id]) then
    redis.call('HDEL', running, id)
    if count == '0' and redis.call('HINCRBY', deliv, id, -1) <= 0 then
      redis.call('HDEL', deliv, id)
    end
    out[#out + 1] = id
  end
end
to_front(ready, levels, prio, out)
if all == '1' then redis.call('ZREM', leases, consumer) end
if #out > 0 then wake_up(wake) end
return out
