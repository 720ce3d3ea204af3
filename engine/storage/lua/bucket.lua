-- The body bucket of an id: a hash of its last BUCKET_TAIL bytes, as bucket() in
-- engine/storage/redis_layout.py computes it (tests/unit/test_lua_scripts.py holds the
-- two equal). Included by lib.lua and by enqueue_new.lua (which takes no lib, to stay
-- small). BUCKETS and BUCKET_TAIL are constants the loader defines.
-- Claim and finish hash every id: an id of at least six bytes (with the tail of six) is
-- hashed unrolled, its bytes read by one string.byte and reduced once at the end (the
-- same number: the sum stays below 2^53, exact in Lua's doubles), several times faster
-- than the loop.
local function bucket_of(id)
  local n = #id
  if BUCKET_TAIL == 6 and n >= 6 then
    local a, b, c, d, e, f = string.byte(id, n - 5, n)
    return (((((a * 31 + b) * 31 + c) * 31 + d) * 31 + e) * 31 + f) % BUCKETS
  end
  local h = 0
  local from = n - BUCKET_TAIL + 1
  if from < 1 then from = 1 end
  for i = from, n do h = (h * 31 + string.byte(id, i)) % BUCKETS end
  return h
end

-- The name of id's bucket under the prefix msg: msg .. bucket_of(id), with the number
-- written from a table of digits (Lua formats a number into a string with sprintf).
local DIGITS = {[0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}
local function bucket_key(msg, id)
  local h = bucket_of(id)
  if h < 10 then return msg .. DIGITS[h] end
  if h < 100 then return msg .. DIGITS[(h - h % 10) / 10] .. DIGITS[h % 10] end
  if h >= 1000 then return msg .. h end
  local t = h % 100
  return msg .. DIGITS[(h - t) / 100] .. DIGITS[(t - t % 10) / 10] .. DIGITS[t % 10]
end
