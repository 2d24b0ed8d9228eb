-- leader_extend: the holder extends its lease (compare-and-extend: never another's).
-- KEYS[1] leader   ARGV: 1 value, 2 lease ms   -> 1 extended, 0 not ours
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
