-- settle: replace a call's drawn worst case by what the provider billed. Idempotent per call.
-- KEYS[1] reservation hash   ARGV: 1 prefix, 2 call id, 3 actual micros (an integer string)
-- Returns {1 settled | 0 already settled | -1 unknown reservation, micros charged}
-- Hot path (one per model call): the reservation is read in one HMGET and written in one
-- HSET; the books move by HINCRBY with the billed amount as it came (see books_incr).
local p = ARGV[1]
local call, actual_s = ARGV[2], ARGV[3]
local actual = actual_s + 0
local r = redis.call('HMGET', KEYS[1], 'state', 'grant', 'taken', 'day', 't', 'u', 'drawn',
  'settled', 'd:' .. call, 's:' .. call)
if not r[1] then return {-1, 0} end
local legacy = nil
if not r[5] then legacy = redis.call('HGET', KEYS[1], 'scopes') end
local bkey, scopes = k_books(p, r[4]), res_scopes(r[5], r[6], legacy)
local settled = (r[8] or 0) + 0
local prev = r[10]
if prev and string.sub(prev, 1, 2) ~= 'x:' then return {0, 0} end
if prev then
  -- The lease ran out first and charged this call at its worst case; correct to the truth.
  local delta = actual - string.sub(prev, 3)
  if delta ~= 0 then books_incr(bkey, scopes, 'spent:', delta) end
  redis.call('HSET', KEYS[1], 's:' .. call, actual_s, 'settled', settled + delta)
  return {1, actual}
end
local w = r[9]
if w then redis.call('HDEL', KEYS[1], 'd:' .. call) end
local take = 0
if r[1] == 'open' then
  -- The estimate is an upper bound, so take <= held; the clamp only guards the books if a
  -- provider ever bills more than it was allowed (spent still records the truth).
  local taken = (r[3] or 0) + 0
  take = actual
  local held = r[2] - taken
  if take > held then take = held end
  local out = {'s:' .. call, actual_s, 'taken', taken + take, 'settled', settled + actual}
  if w then out[7], out[8] = 'drawn', r[7] - w end
  redis.call('HSET', KEYS[1], unpack(out))
else
  redis.call('HSET', KEYS[1], 's:' .. call, actual_s, 'settled', settled + actual)
end
if actual ~= 0 and books_incr(bkey, scopes, 'spent:', actual_s) == actual then
  books_check_new(bkey)
end
if take ~= 0 then
  books_incr(bkey, scopes, 'reserved:', take == actual and ('-' .. actual_s) or (0 - take))
end
books_incr(bkey, scopes, 'calls:', '1')
return {1, actual}
