-- outcomes_sweep: delete tickets whose last change is at or before a cutoff, atomically.
-- KEYS: 1 index zset, 2 counts hash. ARGV: 1 ticket key prefix, 2 cutoff ms, 3 limit.
-- Each one: its count taken back (while its hash still says its status), its hash deleted, its
-- index entry removed. A hash already gone (its TTL passed first) only leaves the index.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local status = redis.call('HGET', key, 'status')
  if status then
    redis.call('HINCRBY', KEYS[2], status, -1)
    redis.call('DEL', key)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #ids
