-- The body bucket of an id: a hash of its last BUCKET_TAIL bytes, as bucket() in
-- engine/storage/redis_layout.py computes it (tests/unit/test_lua_scripts.py holds the
-- two equal). Included by lib.lua and by enqueue_new.lua (which takes no lib, to stay
-- small). BUCKETS and BUCKET_TAIL are constants the loader defines.
local function bucket_of(id)
  local h, n = 0, #id
  local from = n - BUCKET_TAIL + 1
  if from < 1 then from = 1 end
  for i = from, n do h = (h * 31 + string.byte(id, i)) % BUCKETS end
  return h
end
