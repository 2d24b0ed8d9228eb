-- dlq_finish: a taken dead letter is sent; remove it for good, only if this run still holds it.
-- On a Redis broker that is this Redis the message goes on dramatiq's queue here too (as its
-- dispatch.lua enqueues), so sending and removing are one step: a crash leaves the entry
-- either in flight with nothing sent, or sent and gone.
-- KEYS[1] dlq in-flight hash  KEYS[2] dlq entries hash  KEYS[3] the history stream
-- [KEYS[4] dramatiq queue list  KEYS[5] its messages hash: only when this script sends]
-- ARGV: 1 entry id, 2 run id, 3 now ms, [4 redis message id, 5 encoded message]
-- Returns 1 done; 0 the run no longer holds it (a recovery gave it back): nothing written.
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec or cjson.decode(rec)['run'] ~= ARGV[2] then return 0 end
if #KEYS == 5 then
  redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
  redis.call('RPUSH', KEYS[4], ARGV[4])
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
-- As shared/history/emit.py's dead_letter_gone_fields: the entry left the registry, requeued.
redis.call('XADD', KEYS[3], '*', 'k', 'dlq_gone', 'entry', ARGV[1], 'how', 'requeued',
  'at', ARGV[3])
return 1
