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

-- (Each command that takes many members is sent once per batch, or once per run of ids
-- of one level, so a batch costs about one command per id: it holds Redis up briefly.)
local ids, buckets, seen = {}, {}, {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if not seen[id] then  -- (an HSCAN may return a field twice)
    seen[id] = true
    ids[#ids + 1] = id
    buckets[#ids] = ARGV[i + 1]
  end
end
local moved, bodies, dropped = 0, 0, 0
if #ids > 0 then
  local big = msg .. 'big'
  local datas = redis.call('HMGET', old_msg, unpack(ids))
  local scores = redis.call('ZMSCORE', old_ready, unpack(ids))
  local small, large, took, prios, run, run_level, seen_levels = {}, {}, {}, {}, {}, nil, {}
  local function push_run()
    if #run > 0 then redis.call('RPUSH', ready .. run_level, unpack(run)) end
    run = {}
  end
  for j, id in ipairs(ids) do
    local data, home = datas[j], msg .. buckets[j]
    if data then
      if #id > SMALL or #data > SMALL then
        redis.call('HDEL', home, id)
        large[#large + 1] = id
        large[#large + 1] = data
      else
        redis.call('HSET', home, id, data)
        small[#small + 1] = id
      end
      bodies = bodies + 1
    end
    local score = scores[j]
    if score then
      took[#took + 1] = id
      if data or redis.call('HEXISTS', home, id) == 1 or redis.call('HEXISTS', big, id) == 1 then
        local p = string.format('%d', math.floor(-tonumber(score) + 0.5))
        if p ~= run_level then
          push_run()
          run_level = p
        end
        run[#run + 1] = id
        if not seen_levels[p] then
          seen_levels[p] = true
          redis.call('ZADD', levels, -tonumber(p), p)
        end
        if p ~= '0' then
          prios[#prios + 1] = id
          prios[#prios + 1] = p
        end
        moved = moved + 1
      else
        dropped = dropped + 1  -- an id without a body: a claim would drop it too
      end
    end
  end
  push_run()
  if #small > 0 then redis.call('HDEL', big, unpack(small)) end
  if #large > 0 then redis.call('HSET', big, unpack(large)) end
  if #prios > 0 then redis.call('HSET', prio, unpack(prios)) end
  if #took > 0 then redis.call('ZREM', old_ready, unpack(took)) end
  redis.call('HDEL', old_msg, unpack(ids))
end
local left_ready, left_bodies = redis.call('ZCARD', old_ready), redis.call('HLEN', old_msg)
if left_ready == 0 and left_bodies == 0 then redis.call('SET', fmt, format) end
return {moved, bodies, dropped, left_ready, left_bodies}
