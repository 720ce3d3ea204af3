#!lua flags=allow-oom
-- KEYS: ready levels msg running deliv leases watched sched prio wake pauses
-- ARGV: consumer now limit lease clock
-- A consumer's round: promote due scheduled tasks, claim (when limit > 0 and the queue
-- is not paused), and return (id data deliveries)* pauses ready_left watched next_eta,
-- pauses being the pause map as (field value)*.
local ready, levels, msg, running, deliv, leases, watched, sched, prio, wake, pauses =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10],
  KEYS[11]
local consumer, now, limit, lease, clock = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- #include lib

-- The first scheduled task (its eta is the round's next_eta): when it is not due, none
-- is, and sched stays as it is (nothing below writes it).
local first = redis.call('ZRANGE', sched, '0', '0', 'WITHSCORES')
local due = {}
if first[2] and first[2] + 0 <= now + 0 then
  due = redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', '0', '1000')
  if #due > 0 then
    zrem_all(sched, due)
    to_back(ready, levels, prio, due)
  end
  first = redis.call('ZRANGE', sched, '0', '0', 'WITHSCORES')
end
-- The queue's pause (field '*'), in force until its "until" (absent or null: until
-- resumed; unreadable: held), as storage/base.py's pause_in_force.
local paused = redis.call('HGETALL', pauses)
for i = 1, #paused, 2 do
  if paused[i] == '*' then
    local ok, rec = pcall(cjson.decode, paused[i + 1])
    local held = true
    if ok and type(rec) == 'table' then
      local till = rec['until']
      if type(till) == 'number' and till <= tonumber(now) then held = false end
    end
    if held then limit = 0 end
  end
end
local out, lv, from = {}, nil, nil
if tonumber(limit) > 0 then
  out, lv, from =
    claim(ready, levels, msg, running, deliv, leases, consumer, now, limit, lease, clock)
end
local left = ready_count(ready, levels, lv, from)
if #due > 0 and left > 0 then wake_up(wake) end
out[#out + 1] = paused
out[#out + 1] = left
out[#out + 1] = redis.call('GET', watched)
out[#out + 1] = first[2] or false
return out
