-- dlq_take: move one dead letter from the index to the in-flight hash, once.
-- KEYS[1] dlq index zset  KEYS[2] dlq in-flight hash  KEYS[3] dlq entries hash
-- KEYS[4] the death's marker (`dlq:requeued:<event key>:<ms>`: the entry requeued for it)
-- KEYS[5] the history stream (a dropped duplicate is recorded there as gone)
-- ARGV: 1 entry id, 2 in-flight record (JSON), 3 marker TTL s, 4 now ms
-- Returns 1 taken; 0 not in the index (another requeue took it, or it was purged);
-- 2 a duplicate: another entry of the same death was requeued, so this one is dropped.
local cur = redis.call('GET', KEYS[4])
if cur and cur ~= ARGV[1] then
  if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
    redis.call('HDEL', KEYS[3], ARGV[1])
    redis.call('XADD', KEYS[5], '*', 'k', 'dlq_gone', 'entry', ARGV[1], 'how', 'duplicate',
      'at', ARGV[4])
    return 2
  end
  return 0
end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[4], ARGV[1], 'EX', tonumber(ARGV[3]))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
