-- parking_recover: in-flight members older than the timeout (a release that died between
-- taking and enqueuing them) go back to the lot.
-- KEYS[1] parked  KEYS[2] inflight   ARGV: 1 now ms, 2 timeout ms
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
for _, m in ipairs(stale) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[1], m)
end
return #stale
