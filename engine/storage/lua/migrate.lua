#!lua flags=allow-oom
-- KEYS: old_ready old_msg ready msg prio levels leases fmt
-- ARGV: format (id bucket)...
-- One batch of `hueyctl migrate` (engine/storage/redis_format.py): move each id from
-- layout 1 to layout 2. A ready id (in the old_ready zset) goes to the back of the list
-- of its priority (ready .. p, p from its score), so ids given in score order keep
-- their order; a body (in the old_msg hash) goes to its bucket (msg .. bucket) or, past
-- SMALL bytes, to msg .. 'big', byte for byte. An id already moved is in neither old
-- key and is skipped, so a batch cut short is simply run again. Once both old keys are
-- gone, fmt is set to format. Refused while a consumer holds a live lease (server clock):
-- returns {-1, consumer, lease end}; else {ready ids moved, bodies moved, ready ids
-- dropped (no body anywhere), ids left in old_ready, bodies left in old_msg}.
local old_ready, old_msg, ready, msg, prio, levels, leases, fmt =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local format = ARGV[1]

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local live = redis.call('ZRANGEBYSCORE', leases, '(' .. string.format('%.6f', now), '+inf',
  'WITHSCORES', 'LIMIT', 0, 1)
if live[1] then return {-1, live[1], live[2]} end

local moved, bodies, dropped = 0, 0, 0
for i = 2, #ARGV, 2 do
  local id, bucket = ARGV[i], ARGV[i + 1]
  local data = redis.call('HGET', old_msg, id)
  local home, other = msg .. bucket, msg .. 'big'
  if data then
    if #id > SMALL or #data > SMALL then home, other = other, home end
    redis.call('HDEL', other, id)
    redis.call('HSET', home, id, data)
    redis.call('HDEL', old_msg, id)
    bodies = bodies + 1
  end
  local score = redis.call('ZSCORE', old_ready, id)
  if score then
    redis.call('ZREM', old_ready, id)
    if data or redis.call('HEXISTS', home, id) == 1 or redis.call('HEXISTS', other, id) == 1 then
      local p = string.format('%d', math.floor(-tonumber(score) + 0.5))
      redis.call('RPUSH', ready .. p, id)
      redis.call('ZADD', levels, -tonumber(p), p)
      if p ~= '0' then redis.call('HSET', prio, id, p) else redis.call('HDEL', prio, id) end
      moved = moved + 1
    else
      dropped = dropped + 1  -- an id without a body: a claim would drop it too
    end
  end
end
local left_ready, left_bodies = redis.call('ZCARD', old_ready), redis.call('HLEN', old_msg)
if left_ready == 0 and left_bodies == 0 then redis.call('SET', fmt, format) end
return {moved, bodies, dropped, left_ready, left_bodies}
