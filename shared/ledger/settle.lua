-- settle: replace calls' drawn worst cases by what the provider billed, in order, for a batch
-- (one call, or a worker's settles sent together). Idempotent per (reservation, call).
-- KEYS[i] the i-th settle's reservation hash, then last the history stream
-- ARGV: 1 prefix, 2 now ms, then per settle: call id, actual micros (an integer string),
--       prompt, cached and completion tokens, the model billed ('' : the reservation's)
-- Every settle that moves the books adds its call to the history stream in this script.
-- Returns per settle 1 settled | 0 already settled | -1 unknown reservation, or
-- {'error', message} when that settle failed (nothing of it was written).
-- Each reservation is read in one HMGET and written in one HSET; the books' moves are summed
-- per field over the batch and written by one HINCRBY a field at the end (Redis adds in C,
-- and three scopes' worth of HINCRBYs a settle were most of its cost when each settle was
-- written on its own).
local p = ARGV[1]
local now_s = ARGV[2]
local stream = KEYS[#KEYS]
-- The books' moves, summed per day and scope over the batch: three numbers a scope (spent,
-- reserved, calls), named as fields only at the end (building nine field names a settle and
-- summing them by name is dear next to the rest).
local moves, scopes_of, days = {}, {}, {}

-- Calls are counted for the day as a whole only (`calls:global`, what `budget status` shows):
-- a count per tenant and requester was never read and cost a HINCRBY per scope a batch.
local function move(bkey, scopes, spent, reserved, calls)
  local m = moves[bkey]
  if not m then
    m = {}
    moves[bkey], scopes_of[bkey] = m, {}
    days[#days + 1] = bkey
  end
  for i = 1, 3 do
    local v = m[scopes[i]]
    if not v then
      v = {0, 0, 0}
      m[scopes[i]] = v
      local order = scopes_of[bkey]
      order[#order + 1] = scopes[i]
    end
    v[1], v[2], v[3] = v[1] + spent, v[2] + reserved, v[3] + calls
    calls = 0
  end
end

-- What the history entry needs from the reservation: t, u, ticket, tid, lane, model, day.
local function history_fields(r) return {r[5], r[6], r[11], r[12], r[13], r[14], r[4]} end

local function settle_one(key, call, actual_s, usage)
  local actual = actual_s + 0
  local r = redis.call('HMGET', key, 'state', 'grant', 'taken', 'day', 't', 'u', 'drawn',
    'settled', 'd:' .. call, 's:' .. call, 'ticket', 'tid', 'lane', 'model')
  if not r[1] then return -1 end
  local legacy = nil
  if not r[5] then legacy = redis.call('HGET', key, 'scopes') end
  local bkey, scopes = k_books(p, r[4]), res_scopes(r[5], r[6], legacy)
  local settled = (r[8] or 0) + 0
  local prev = r[10]
  if prev and string.sub(prev, 1, 2) ~= 'x:' then return 0 end
  if prev then
    -- The lease ran out first and charged this call at its worst case; correct to the truth.
    local delta = actual - string.sub(prev, 3)
    redis.call('HSET', key, 's:' .. call, actual_s, 'settled', settled + delta)
    history_call(stream, string.sub(key, #p + 5), call, history_fields(r), scopes, actual_s,
      now_s, '0', usage)
    move(bkey, scopes, delta, 0, 0)
    return 1
  end
  local w = r[9]
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
    redis.call('HSET', key, unpack(out))
  else
    redis.call('HSET', key, 's:' .. call, actual_s, 'settled', settled + actual)
  end
  if w then redis.call('HDEL', key, 'd:' .. call) end
  history_call(stream, string.sub(key, #p + 5), call, history_fields(r), scopes, actual_s,
    now_s, '0', usage)  -- the reservation id: the key after '<p>res:'
  move(bkey, scopes, actual, 0 - take, 1)
  return 1
end

local out = {}
for i = 1, #KEYS - 1 do
  local a = 3 + (i - 1) * 6
  out[i] = item(settle_one, KEYS[i], ARGV[a], ARGV[a + 1],
    {ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]})
end

-- The books. Never send "-0" (Redis refuses it): a field whose moves summed to zero is
-- skipped. A global spend that equals what this batch added means the day's hash may be new
-- (a late settle after it expired): its layout mark and its TTL. (`global` is every
-- reservation's first scope, so its spend is the day's first field written.)
local PREFIXES = {'spent:', 'reserved:', 'calls:'}
for _, bkey in ipairs(days) do
  local m = moves[bkey]
  for _, scope in ipairs(scopes_of[bkey]) do
    local v = m[scope]
    for j = 1, 3 do
      local d = v[j]
      if d ~= 0 then
        local now_v = redis.call('HINCRBY', bkey, PREFIXES[j] .. scope, d)
        if j == 1 and scope == 'global' and now_v == d then books_check_new(bkey) end
      end
    end
  end
end
return out
