-- admit: decide, atomically, whether a ticket's envelope fits every cap and the pace.
-- KEYS[1] caps hash   KEYS[2] pace hash   KEYS[3] leases zset   KEYS[4] by_ticket hash
-- KEYS[5] the ticket's outcome hash (optional): a final outcome for this event -> 'skip'
-- ARGV: 1 prefix, 2 now_ms, 3 day, 4 day_end_ms, 5 ticket key, 6 new reservation id,
--       7 lease until ms, 8 tenant, 9 user scope ("user:<tenant>:<id>"), 10 lane,
--       11 ceiling, 12 tenant cap, 13 user cap (defaults, micros), 14 live reserve pct,
--       15 pacing ("even"|"off"), 16 burst micros, 17 tight pct, 18 held retry ms,
--       19 reservation TTL s, 20 n candidates, then n x (model, full micros, min micros),
--       then the event id, then (optional) a count of reservations to close first and their ids
-- Returns {decision, reservation id, grant, model, reason, until_ms, reused,
--          reservations that could not be closed}
-- Values are written as the strings they came in where possible: formatting a Lua number
-- for Redis, and parsing one back, cost more here than the redis.calls around them.
local p = ARGV[1]
local now = ARGV[2] + 0
local day, day_end = ARGV[3], ARGV[4] + 0
local ticket, rid, lease_until = ARGV[5], ARGV[6], ARGV[7]
local tenant, user_scope, lane = ARGV[8], ARGV[9], ARGV[10]
local live = (lane == 'live')

local n_cand = ARGV[20] + 0

-- Reservations the worker's earlier tickets left open ride in the batch's first admit and are
-- closed before anything else, so what they give back is there for this decision and the
-- batch's next ones (a release script of its own cost ~38k instructions more here, with
-- callgrind, and its packing and reply in the worker). Each in its own pcall: only a corrupt hash
-- can fail to close, and it must not fail this ticket; it is counted in the reply and its
-- lease leaves it to the reaper.
local rel_at = 20 + n_cand * 3 + 2
local rel_failed = 0
for i = 1, (ARGV[rel_at] or 0) + 0 do
  if not pcall(close_reservation, p, ARGV[rel_at + i], KEYS[3], KEYS[4], KEYS[2]) then
    rel_failed = rel_failed + 1
  end
end

-- A duplicate delivery of an event that already ended does nothing (one round trip).
if KEYS[5] then
  local o = redis.call('HMGET', KEYS[5], 'status', 'event_id')
  local event = ARGV[20 + n_cand * 3 + 1]
  local finals = {answered=true, escalated=true, rejected=true, dead_lettered=true}
  if o[1] and finals[o[1]] and o[2] == event then
    return {'skip', '', 0, '', 'already_final', 0, 0, rel_failed}
  end
end

-- A redelivered ticket (worker crash, retry) keeps drawing from its own envelope.
local existing = redis.call('HGET', KEYS[4], ticket)
if existing then
  local rkey = p .. 'res:' .. existing
  local st = redis.call('HMGET', rkey, 'state', 'grant', 'model')
  if st[1] == 'open' then
    redis.call('ZADD', KEYS[3], lease_until, existing)
    return {'admit', existing, st[2] + 0, st[3], 'reused', 0, 1, rel_failed}
  end
  redis.call('HDEL', KEYS[4], ticket)
end

-- The decision itself: every cap and the pace, read and (on admission) written at once.
local function decide()
  local tscope = 'tenant:' .. tenant
  local caps = redis.call('HMGET', KEYS[1], 'global', tscope, 'tenant:*', user_scope, 'user:*',
    'paused:' .. tscope)
  local paused_until = (caps[6] or 0) + 0
  if paused_until > now then
    return {'defer', '', 0, '', 'tenant_paused', paused_until, 0}
  end
  local cap_g = (caps[1] or ARGV[11]) + 0
  local cap_t = (caps[2] or caps[3] or ARGV[12]) + 0
  local cap_u = (caps[4] or caps[5] or ARGV[13]) + 0
  local reserve_pct = ARGV[14] + 0
  -- Replay and redrive never touch the share of the ceiling kept for live tickets.
  local lane_cap_g = cap_g
  if not live then lane_cap_g = math.floor(cap_g * (100 - reserve_pct) / 100) end

  local scopes = {'global', tscope, user_scope}
  local limits = {lane_cap_g, cap_t, cap_u}
  local kinds = {'global', 'tenant', 'user'}
  if not live then kinds[1] = 'live_reserve' end
  local bkey = k_books(p, day)
  local books = redis.call('HMGET', bkey, 'spent:' .. scopes[1], 'spent:' .. scopes[2],
    'spent:' .. scopes[3], 'reserved:' .. scopes[1], 'reserved:' .. scopes[2],
    'reserved:' .. scopes[3])
  local spent, reserved = {}, {}
  local avail, hard = nil, nil
  local avail_kind, hard_kind = '', ''
  for i = 1, 3 do
    local s, held = (books[i] or 0) + 0, (books[i + 3] or 0) + 0
    spent[i], reserved[i] = s, held
    local a = limits[i] - s - held
    local h = limits[i] - s
    if avail == nil or a < avail then avail, avail_kind = a, kinds[i] end
    if hard == nil or h < hard then hard, hard_kind = h, kinds[i] end
  end

  -- The pace bucket: refilled at `rate` micros per hour. When no scheduler has set a fresh
  -- rate, the script derives the even pace itself: what is left of the ceiling over what is
  -- left of the day.
  local pacing = ARGV[15] == 'even'
  local burst = ARGV[16] + 0
  local tokens = nil
  local rate = 0
  if pacing then
    local b = redis.call('HMGET', KEYS[2], 'tokens', 'frac', 'updated_ms', 'rate', 'rate_set_ms')
    rate = (b[4] or -1) + 0
    if rate < 0 or now - (b[5] or 0) > 120000 then
      local left = cap_g - spent[1] - reserved[1]
      if left < 0 then left = 0 end
      local span = day_end - now
      if span < 60000 then span = 60000 end
      rate = math.floor(left * 3600000 / span)
    end
    tokens = (b[1] or burst) + 0
    local frac = (b[2] or 0) + 0
    local elapsed = now - (b[3] or now)
    if elapsed < 0 then elapsed = 0 end
    if elapsed > 3600000 then elapsed = 3600000 end
    local added = elapsed * rate + frac
    tokens = tokens + math.floor(added / 3600000)
    frac = added % 3600000
    if tokens > burst then tokens, frac = burst, 0 end
    redis.call('HSET', KEYS[2], 'tokens', tokens, 'frac', frac, 'updated_ms', now, 'burst', burst,
      'rate_used', rate)
  end
  local bucket_avail = nil
  if pacing then
    bucket_avail = tokens
    -- Live keeps a share of the burst too, so a replay cannot empty the bucket ahead of it.
    if not live then bucket_avail = tokens - math.floor(burst * reserve_pct / 100) end
  end

  -- Degrade before refusing: when the bucket is low, start from the next cheaper model.
  local n = n_cand
  local first = 1
  if pacing and n > 1 and tokens * 100 < burst * ARGV[17] then first = 2 end
  for i = first, n do
    local base = 20 + (i - 1) * 3
    local model, full, min = ARGV[base + 1], ARGV[base + 2] + 0, ARGV[base + 3] + 0
    local grant = full
    if avail < grant then grant = avail end
    if bucket_avail ~= nil and bucket_avail < grant then grant = bucket_avail end
    if grant >= min then
      local rkey = p .. 'res:' .. rid
      local grant_s = grant
      if grant == full then grant_s = ARGV[base + 2] end
      -- Seven fields, each read by a script (a field costs ~2.5k instructions here); taken,
      -- settled and drawn come once non-zero.
      redis.call('HSET', rkey, 'grant', grant_s, 'state', 'open', 'day', day, 't', tscope,
        'u', user_scope, 'ticket', ticket, 'model', model)
      redis.call('EXPIRE', rkey, ARGV[19])
      redis.call('ZADD', KEYS[3], lease_until, rid)
      -- (The mark again: this hash holds every open reservation's ticket, so as a listpack
      -- each admission's HGET above scanned all of them.)
      redis.call('HSET', KEYS[4], ticket, rid, BOOKS_MARK, BOOKS_MARK_VALUE)
      -- The books were read above and nothing ran since: write the three holds in one HSET.
      -- No global spend or hold yet: the day's hash may be new (its layout mark, its TTL).
      local fresh = not books[1] and not books[4]
      local holds = {'reserved:' .. scopes[1], reserved[1] + grant,
        'reserved:' .. scopes[2], reserved[2] + grant,
        'reserved:' .. scopes[3], reserved[3] + grant}
      if fresh then holds[7], holds[8] = BOOKS_MARK, BOOKS_MARK_VALUE end
      redis.call('HSET', bkey, unpack(holds))
      if fresh then redis.call('EXPIRE', bkey, DAY_TTL_S) end
      if pacing then redis.call('HINCRBY', KEYS[2], 'tokens', 0 - grant) end
      local why = 'full'
      if grant < full then why = 'partial' end
      if i > 1 then why = why .. ':degraded' end
      return {'admit', rid, grant, model, why, 0, 0}
    end
  end

  -- Not admitted: say why, and until when waiting makes sense.
  local last_min = ARGV[20 + (n - 1) * 3 + 3] + 0
  if hard < last_min then
    return {'defer', '', 0, '', hard_kind .. '_daily_cap', day_end, 0}
  end
  if avail < last_min then
    -- Money is held by reservations in flight; most of it comes back at settle time.
    return {'defer', '', 0, '', avail_kind .. '_cap_held', now + ARGV[18], 0}
  end
  local short = last_min - bucket_avail
  local wait_ms = day_end - now
  if rate > 0 then wait_ms = math.ceil(short * 3600000 / rate) end
  if now + wait_ms > day_end then wait_ms = day_end - now end
  return {'defer', '', 0, '', 'pace', now + wait_ms, 0}
end

-- A hold whose lease ran out (a crashed worker's) counts until it is reaped. It can only have
-- turned an admission into a refusal, so the leases are looked at only before refusing: an
-- admission skips that range read (with callgrind, 15k of ~230k instructions), and the
-- scheduler reaps on every tick besides.
local reply = decide()
if reply[1] == 'defer' and reply[5] ~= 'tenant_paused'
    and reap(p, ARGV[2], 20, KEYS[3], KEYS[4], KEYS[2]) > 0 then
  reply = decide()
end
reply[8] = rel_failed
return reply
