-- dlq_put_back: an in-flight dead letter goes back to the index (its requeue was interrupted,
-- failed, or its run died), and its death's marker is cleared so it can be taken again.
-- KEYS[1] dlq in-flight hash  KEYS[2] dlq index zset  KEYS[3] the death's marker
-- KEYS[4] the run's lease: while it lives the run may still send, so a recovery leaves it
-- ARGV: 1 entry id, 2 its failure ms (index score), 3 run id that must hold it,
--       4 '1' when that run itself gives it back (its own lease is then no obstacle)
-- Returns 1 put back, 0 left alone.
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec or cjson.decode(rec)['run'] ~= ARGV[3] then return 0 end
if ARGV[4] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
