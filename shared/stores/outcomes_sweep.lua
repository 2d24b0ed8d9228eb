-- outcomes_sweep: delete tickets whose last change is at or before a cutoff, atomically.
-- KEYS: 1 index zset, 2 counts hash. ARGV: 1 ticket key prefix, 2 cutoff ms, 3 limit, 4 now ms,
-- 5 the hash's TTL (s), 6 thread key prefix (a live ticket's conversation goes with it).
-- A final one: its count taken back (while its hash still says its status), its hash deleted,
-- its index entry removed. One still in flight (pending or parked: waiting for tomorrow's
-- money, say) is kept: its entry moves to now and its hash's TTL starts again, so retention
-- never takes a ticket the system still owes an answer. A hash already gone (its TTL passed
-- first) only leaves the index.
local finals = {answered=true, escalated=true, rejected=true, dead_lettered=true, human_owned=true}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local removed = 0
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if status and not finals[status] then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[4]), id)
    redis.call('EXPIRE', key, tonumber(ARGV[5]))
    redis.call('EXPIRE', ARGV[6] .. id, tonumber(ARGV[5]))
  else
    if status then
      redis.call('HINCRBY', KEYS[2], status, -1)
      redis.call('DEL', key)
    end
    redis.call('DEL', ARGV[6] .. id)
    redis.call('ZREM', KEYS[1], id)
    removed = removed + 1
  end
end
return {#ids, removed}
