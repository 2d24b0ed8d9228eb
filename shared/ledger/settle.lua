-- settle: replace a call's drawn worst case by what the provider billed. Idempotent per call.
-- KEYS[1] reservation hash  KEYS[2] its draws hash  KEYS[3] its settled hash
-- ARGV: 1 prefix, 2 call id, 3 actual micros
-- Returns {1 settled | 0 already settled | -1 unknown reservation, micros charged}
local p = ARGV[1]
local call, actual = ARGV[2], tonumber(ARGV[3])
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'day', 'scopes')
if not r[1] then return {-1, 0} end
local day, scopes = r[4], r[5]
local prev = redis.call('HGET', KEYS[3], call)
if prev and string.sub(prev, 1, 2) ~= 'x:' then return {0, 0} end
if prev then
  -- The lease ran out first and charged this call at its worst case; correct to the truth.
  local delta = actual - tonumber(string.sub(prev, 3))
  each_scope(scopes, function(scope) redis.call('HINCRBY', k_spent(p, day), scope, delta) end)
  redis.call('HSET', KEYS[3], call, actual)
  redis.call('HINCRBY', KEYS[1], 'settled', delta)
  return {1, actual}
end
local w = tonumber(redis.call('HGET', KEYS[2], call) or '0')
redis.call('HDEL', KEYS[2], call)
redis.call('HSET', KEYS[3], call, actual)
local take = actual
if r[1] == 'open' then
  redis.call('HINCRBY', KEYS[1], 'drawn', 0 - w)
  -- The estimate is an upper bound, so take <= held; the clamp only guards the books if a
  -- provider ever bills more than it was allowed (spent still records the truth).
  local held = tonumber(r[2]) - tonumber(r[3])
  if take > held then take = held end
  redis.call('HINCRBY', KEYS[1], 'taken', take)
  each_scope(scopes, function(scope)
    redis.call('HINCRBY', k_reserved(p, day), scope, 0 - take)
  end)
end
redis.call('HINCRBY', KEYS[1], 'settled', actual)
each_scope(scopes, function(scope)
  redis.call('HINCRBY', k_spent(p, day), scope, actual)
  redis.call('HINCRBY', k_calls(p, day), scope, 1)
end)
redis.call('EXPIRE', k_calls(p, day), DAY_TTL_S)
return {1, actual}
