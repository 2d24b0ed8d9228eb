-- parking_take_due (after parking_scan_due): moves up to `limit` due members of one lane to
-- in-flight and returns them.
-- KEYS[1] parked zset  KEYS[2] inflight zset   ARGV: 1 now ms, 2 limit, 3 lane prefix
for _, m in ipairs(out) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], ARGV[1], m)
end
return out
