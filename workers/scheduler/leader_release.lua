-- leader_release: the holder gives its lease up (compare-and-delete: never another's).
-- KEYS[1] leader   ARGV: 1 value   -> 1 released, 0 not ours
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
