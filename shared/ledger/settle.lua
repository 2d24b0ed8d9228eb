-- settle: replace a call's drawn worst case by what the provider billed. Idempotent per call.
-- KEYS[1] reservation hash  KEYS[2] its draws hash  KEYS[3] its settled hash
-- ARGV: 1 prefix, 2 call id, 3 actual micros
-- Returns {1 settled | 0 already settled | -1 unknown reservation, micros charged}
-- Hot path (one per model call): the reservation's own counters are read once and written
-- back with one HSET (the script is atomic, so read-modify-write is safe here).
local p = ARGV[1]
local call, actual = ARGV[2], tonumber(ARGV[3])
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'day', 'scopes', 'drawn',
  'settled')
if not r[1] then return {-1, 0} end
local day, scopes = r[4], r[5]
local settled = tonumber(r[7] or '0')
local prev = redis.call('HGET', KEYS[3], call)
if prev and string.sub(prev, 1, 2) ~= 'x:' then return {0, 0} end
if prev then
  -- The lease ran out first and charged this call at its worst case; correct to the truth.
  local delta = actual - tonumber(string.sub(prev, 3))
  each_scope(scopes, function(scope) redis.call('HINCRBY', k_spent(p, day), scope, delta) end)
  redis.call('HSET', KEYS[3], call, actual)
  redis.call('HSET', KEYS[1], 'settled', settled + delta)
  return {1, actual}
end
local w = tonumber(redis.call('HGET', KEYS[2], call) or '0')
if w > 0 then redis.call('HDEL', KEYS[2], call) end
redis.call('HSET', KEYS[3], call, actual)
if r[1] == 'open' then
  -- The estimate is an upper bound, so take <= held; the clamp only guards the books if a
  -- provider ever bills more than it was allowed (spent still records the truth).
  local taken = tonumber(r[3])
  local take = actual
  local held = tonumber(r[2]) - taken
  if take > held then take = held end
  redis.call('HSET', KEYS[1], 'drawn', tonumber(r[6]) - w, 'taken', taken + take,
    'settled', settled + actual)
  each_scope(scopes, function(scope)
    redis.call('HINCRBY', k_reserved(p, day), scope, 0 - take)
  end)
else
  redis.call('HSET', KEYS[1], 'settled', settled + actual)
end
local fresh = false
each_scope(scopes, function(scope)
  redis.call('HINCRBY', k_spent(p, day), scope, actual)
  -- A count of 1 means the day's hash was (re)created by this call: give it its TTL.
  if redis.call('HINCRBY', k_calls(p, day), scope, 1) == 1 then fresh = true end
end)
if fresh then
  redis.call('EXPIRE', k_calls(p, day), DAY_TTL_S)
  redis.call('EXPIRE', k_spent(p, day), DAY_TTL_S)
end
return {1, actual}
