-- The body bucket of an id: a hash of its last BUCKET_TAIL bytes, as bucket() in
-- engine/storage/redis_layout.py computes it (tests/unit/test_lua_scripts.py holds the
-- two equal). Included by lib.lua and by enqueue_new.lua (which takes no lib, to stay
-- small). BUCKETS and BUCKET_TAIL are constants the loader defines. An id of at least
-- six bytes (with the tail of six) is hashed unrolled, its bytes read by one
-- string.byte: claim and finish hash every id, and the loop costs about twice as much.
local function bucket_of(id)
  local n = #id
  if BUCKET_TAIL == 6 and n >= 6 then
    local a, b, c, d, e, f = string.byte(id, n - 5, n)
    local h = (a % BUCKETS * 31 + b) % BUCKETS
    h = ((h * 31 + c) % BUCKETS * 31 + d) % BUCKETS
    return ((h * 31 + e) % BUCKETS * 31 + f) % BUCKETS
  end
  local h = 0
  local from = n - BUCKET_TAIL + 1
  if from < 1 then from = 1 end
  for i = from, n do h = (h * 31 + string.byte(id, i)) % BUCKETS end
  return h
end
