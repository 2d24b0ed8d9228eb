-- draw: take a call's worst case from what is left of an envelope, before the call.
-- KEYS[1] reservation hash  KEYS[2] leases
-- ARGV: 1 reservation id, 2 call id, 3 worst micros, 4 now ms, 5 lease ms
-- Returns {ok (1 drawn | 0 does not fit | -1 reservation gone), micros left after}
local call = ARGV[2]
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'drawn', 'd:' .. call,
  's:' .. call)
if r[1] ~= 'open' then return {-1, 0} end
local drawn = (r[4] or 0) + 0
local left = r[2] - (r[3] or 0) - drawn
if r[5] or r[6] then return {1, left} end
local w = ARGV[3] + 0
if w > left then return {0, left} end
local lease_ms = ARGV[5] + 0
-- The lease is the leases set's score (the reservation hash does not repeat it).
redis.call('HSET', KEYS[1], 'd:' .. call, ARGV[3], 'drawn', drawn + w)
redis.call('ZADD', KEYS[2], ARGV[4] + lease_ms, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.floor(lease_ms / 1000) + RES_TTL_S)
return {1, left - w}
