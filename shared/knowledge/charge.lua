-- charge: knowledge spend outside a ticket (provider embeddings at import, a command-line
-- search), booked in the day's books under `global` and the scope `kb:<tenant>`.
-- KEYS[1] the day's books  KEYS[2] caps
-- ARGV: 1 scope ("kb:<tenant>"), 2 micros, 3 the ceiling's default (micros),
--       4 "hold" | "adjust"
-- hold: charge `micros` (a worst case) only if it fits what is left of the day's global
--       ceiling after spend and reservations; returns {1, left after} or {0, left}
-- adjust: add `micros` as is (negative: the margin given back); returns {1, 0}
local scopes = {'global', ARGV[1]}
local micros = ARGV[2] + 0
if ARGV[4] == 'hold' then
  local ceiling = (redis.call('HGET', KEYS[2], 'global') or ARGV[3]) + 0
  local v = redis.call('HMGET', KEYS[1], 'spent:global', 'reserved:global')
  local left = ceiling - (v[1] or 0) - (v[2] or 0)
  if micros > left then return {0, left} end
  if micros == 0 then return {1, left} end
  books_incr(KEYS[1], scopes, 'spent:', ARGV[2])
  books_check_new(KEYS[1])
  return {1, left - micros}
end
if micros ~= 0 then
  books_incr(KEYS[1], scopes, 'spent:', ARGV[2])
  books_check_new(KEYS[1])
end
return {1, 0}
