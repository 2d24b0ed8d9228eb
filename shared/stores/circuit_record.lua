-- circuit_record: one provider attempt's outcome; opens or closes the provider circuit.
-- KEYS: 1 circuit hash, 2 probe key, 3.. window buckets (current first)
-- ARGV: 1 now ms, 2 ok (1|0), 3 min calls, 4 error rate pct, 5 open ms, 6 bucket ttl ms, 7 token
local now, ok, token = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[7]
local open_ms = tonumber(ARGV[5])
if token ~= '' and redis.call('GET', KEYS[2]) == token then
  redis.call('DEL', KEYS[2])
  if ok then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'retry_at_ms', 0, 'changed_at_ms', now)
    for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
    return 'closed'
  end
  redis.call('HSET', KEYS[1], 'state', 'open', 'retry_at_ms', now + open_ms, 'changed_at_ms', now)
  redis.call('HINCRBY', KEYS[1], 'opens', 1)
  return 'open'
end
redis.call('HINCRBY', KEYS[3], ok and 'ok' or 'err', 1)
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[6]))
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state ~= 'closed' or ok then return state end
local total, errs = 0, 0
for i = 3, #KEYS do
  local c = redis.call('HMGET', KEYS[i], 'ok', 'err')
  local e = tonumber(c[2] or '0')
  total = total + tonumber(c[1] or '0') + e
  errs = errs + e
end
if total >= tonumber(ARGV[3]) and errs * 100 >= tonumber(ARGV[4]) * total then
  redis.call('HSET', KEYS[1], 'state', 'open', 'retry_at_ms', now + open_ms, 'changed_at_ms', now)
  redis.call('HINCRBY', KEYS[1], 'opens', 1)
  return 'open'
end
return 'closed'
