-- draw: take a call's worst case from what is left of an envelope, before the call.
-- KEYS[1] reservation hash  KEYS[2] its draws hash  KEYS[3] its settled hash  KEYS[4] leases
-- ARGV: 1 reservation id, 2 call id, 3 worst micros, 4 now ms, 5 lease ms
-- Returns {ok (1 drawn | 0 does not fit | -1 reservation gone), micros left after}
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'drawn')
if r[1] ~= 'open' then return {-1, 0} end
local left = tonumber(r[2]) - tonumber(r[3]) - tonumber(r[4])
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 or redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then
  return {1, left}
end
local w = tonumber(ARGV[3])
if w > left then return {0, left} end
redis.call('HSET', KEYS[2], ARGV[2], w)
redis.call('HINCRBY', KEYS[1], 'drawn', w)
local lease_until = tonumber(ARGV[4]) + tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'lease_until', lease_until)
redis.call('ZADD', KEYS[4], lease_until, ARGV[1])
redis.call('EXPIRE', KEYS[2], math.floor(tonumber(ARGV[5]) / 1000) + RES_TTL_S)
return {1, left - w}
