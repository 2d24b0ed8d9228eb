-- circuit_allow: may a provider call go now? (closed, this caller holds the half-open probe, open)
-- KEYS: 1 circuit hash, 2 probe key   ARGV: 1 now ms, 2 token, 3 probe ttl ms
-- Returns 1 (closed: go), 2 (you hold the probe), 0 (open: do not call)
local c = redis.call('HMGET', KEYS[1], 'state', 'retry_at_ms')
local state = c[1] or 'closed'
if state == 'closed' then return 1 end
if tonumber(ARGV[1]) < tonumber(c[2] or '0') then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'changed_at_ms', ARGV[1])
  return 2
end
return 0
