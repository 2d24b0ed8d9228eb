-- settle: replace a call's drawn worst case by what the provider billed. Idempotent per call.
-- KEYS[1] reservation hash   ARGV: 1 prefix, 2 call id, 3 actual micros
-- Returns {1 settled | 0 already settled | -1 unknown reservation, micros charged}
-- Hot path (one per model call): the reservation is read in one HMGET and written in one
-- HSET; the day's books likewise (see books_add).
local p = ARGV[1]
local call, actual = ARGV[2], tonumber(ARGV[3])
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'day', 'scopes', 'drawn',
  'settled', 'd:' .. call, 's:' .. call)
if not r[1] then return {-1, 0} end
local bkey, scopes = k_books(p, r[4]), split_scopes(r[5])
local settled = tonumber(r[7] or '0')
local prev = r[9]
if prev and string.sub(prev, 1, 2) ~= 'x:' then return {0, 0} end
if prev then
  -- The lease ran out first and charged this call at its worst case; correct to the truth.
  local delta = actual - tonumber(string.sub(prev, 3))
  books_add(bkey, scopes, {{'spent:', delta}})
  redis.call('HSET', KEYS[1], 's:' .. call, actual, 'settled', settled + delta)
  return {1, actual}
end
local w = tonumber(r[8] or '0')
if r[8] then redis.call('HDEL', KEYS[1], 'd:' .. call) end
if r[1] == 'open' then
  -- The estimate is an upper bound, so take <= held; the clamp only guards the books if a
  -- provider ever bills more than it was allowed (spent still records the truth).
  local taken = tonumber(r[3])
  local take = actual
  local held = tonumber(r[2]) - taken
  if take > held then take = held end
  redis.call('HSET', KEYS[1], 's:' .. call, actual, 'drawn', tonumber(r[6]) - w,
    'taken', taken + take, 'settled', settled + actual)
  books_add(bkey, scopes, {{'spent:', actual}, {'reserved:', 0 - take}, {'calls:', 1}})
else
  redis.call('HSET', KEYS[1], 's:' .. call, actual, 'settled', settled + actual)
  books_add(bkey, scopes, {{'spent:', actual}, {'calls:', 1}})
end
return {1, actual}
