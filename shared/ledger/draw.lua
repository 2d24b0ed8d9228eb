-- draw: take a call's worst case from what is left of an envelope, before the call.
-- KEYS[1] reservation hash  KEYS[2] leases
-- ARGV: 1 reservation id, 2 call id, 3 worst micros, 4 now ms, 5 lease ms
-- Returns {ok (1 drawn | 0 does not fit | -1 reservation gone), micros left after}
local call = ARGV[2]
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'drawn', 'd:' .. call,
  's:' .. call)
if r[1] ~= 'open' then return {-1, 0} end
local drawn = tonumber(r[4])
local left = tonumber(r[2]) - tonumber(r[3]) - drawn
if r[5] or r[6] then return {1, left} end
local w = tonumber(ARGV[3])
if w > left then return {0, left} end
local lease_ms = tonumber(ARGV[5])
local lease_until = tonumber(ARGV[4]) + lease_ms
redis.call('HSET', KEYS[1], 'd:' .. call, w, 'drawn', drawn + w, 'lease_until', lease_until)
redis.call('ZADD', KEYS[2], lease_until, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.floor(lease_ms / 1000) + RES_TTL_S)
return {1, left - w}
