-- admit: decide, atomically and in order, for a batch of tickets whether each one's envelope
-- fits every cap and the pace. One script for the batch (a consumer's prefetched tickets):
-- the caps, the day's books and the pace are read once for all of them and written once at
-- the end, so a ticket costs its own reads and its reservation's writes, not the whole
-- ledger's. The whole batch is one atomic decision sequence: each ticket sees what the ones
-- before it took, exactly as if each had been its own script.
-- KEYS[1] caps hash   KEYS[2] pace hash   KEYS[3] leases zset   KEYS[4] by_ticket hash
-- KEYS[5] the history stream (a release that charges a lease-expired call records it)
-- KEYS[6..] the outcome hashes of the tickets that name one (a final outcome for the
--           ticket's event -> 'skip')
-- ARGV: 1 prefix, 2 now_ms, 3 day, 4 day_end_ms, 5 lease until ms,
--       6 ceiling, 7 tenant cap, 8 user cap (defaults, micros), 9 live reserve pct,
--       10 pacing ("even"|"off"), 11 burst micros, 12 tight pct, 13 held retry ms,
--       14 reservation TTL s, 15 a count of reservations to close first, then their ids,
--       then a count of tickets, then per ticket: ticket key, new reservation id, tenant
--       scope ("tenant:<id>"), user scope ("user:<tenant>:<id>"), lane ("live", "redrive",
--       "replay"; or, for live tickets, "line": one released from the live line, "slo" and
--       "slo_line": a new one or one from the line past its SLO, asking for the cheapest
--       model), event id, the index of its outcome hash in KEYS (0: none), a count of
--       candidates, the tenant's own default tenant cap and requester cap in micros (its
--       profile's; '' for none), then per candidate: model, full micros, min micros
-- A live ticket takes a whole envelope (or the whole burst) from the bucket, or waits. The
-- live plan (shared/stores/live_plan.py) is read from the pace hash with the bucket; while it
-- is fresh, live tickets run on its rung only, a new live ticket joins the back of the line
-- while there is one (what the bucket holds is the line's), and replay and redrive leave its
-- reserve of the ceiling and its floor of the bucket.
-- Returns {reservations that could not be closed, then per ticket
--          {decision, reservation id, grant, model, reason, until_ms, reused}, or
--          {'error', message} when that ticket's part failed (nothing of it was written)}
-- Values are written as the strings they came in where possible: formatting a Lua number
-- for Redis, and parsing one back, cost more here than the redis.calls around them.
local p = ARGV[1]
local now = ARGV[2] + 0
local day, day_end = ARGV[3], ARGV[4] + 0
local lease_until = ARGV[5]
local reserve_pct = ARGV[9] + 0
local pacing = ARGV[10] == 'even'
local burst = ARGV[11] + 0
local bkey = k_books(p, day)
-- How soon replay and redrive look again when the live plan's reserve holds them back.
local RESERVE_RETRY_MS = 600000

-- Reservations the worker's earlier tickets left open are closed before anything else, so
-- what they give back is there for this batch's decisions (and a release costs less inside
-- this script than as a script of its own). Each in its own pcall: only a corrupt hash can
-- fail to close, and it must not fail a ticket; it is counted in the reply and its lease
-- leaves it to the reaper.
local n_rel = ARGV[15] + 0
local rel_failed = 0
for i = 1, n_rel do
  if not pcall(close_reservation, p, ARGV[15 + i], KEYS[3], KEYS[4], KEYS[2], KEYS[5], ARGV[2]) then
    rel_failed = rel_failed + 1
  end
end

-- The tickets: where each one's arguments start (arrays, not a table a ticket: every Lua
-- table or string made here is paid per ticket).
local at = 15 + n_rel + 1
local n_tickets = ARGV[at] + 0
local t_at, t_ncand = {}, {}
at = at + 1
for i = 1, n_tickets do
  local n_cand = ARGV[at + 7] + 0
  t_at[i], t_ncand[i] = at, n_cand
  at = at + 10 + n_cand * 3
end

-- A scope's two fields in the books, named once a batch.
local spent_f, reserved_f = {global = 'spent:global'}, {global = 'reserved:global'}
local function name_fields(scope)
  if not spent_f[scope] then
    spent_f[scope], reserved_f[scope] = 'spent:' .. scope, 'reserved:' .. scope
  end
end

-- What the batch reads once and writes once. Nothing else runs while the script does, so
-- values kept here and written at the end are exact; only closing a reservation (the reap
-- before a refusal) writes the same hashes directly, and it runs after `flush` and is
-- followed by `load`.
local caps, books, by_ticket, pace, plan = {}, {}, {}, nil, nil
local cap_num = {}  -- a scope's cap as a number, parsed once a batch
local books_fresh = false
local dirty_books, is_dirty, new_tickets, new_leases = {}, {}, {}, {}
local pace_dirty = false

local function hmget_into(key, fields, into)
  if #fields == 0 then return end
  local v = redis.call('HMGET', key, unpack(fields))
  for j = 1, #fields do into[fields[j]] = v[j] or false end
end

-- Read what tickets `from`..n need (each field once).
local function load(from)
  caps, books, by_ticket, cap_num = {}, {}, {}, {}
  local cf, bf, tf = {'global', 'tenant:*', 'user:*'}, {'spent:global', 'reserved:global'}, {}
  local seen = {global = true, ['tenant:*'] = true, ['user:*'] = true,
    ['spent:global'] = true, ['reserved:global'] = true}
  local asked = {}
  local function want(list, f)
    if not seen[f] then seen[f] = true; list[#list + 1] = f end
  end
  for i = from, n_tickets do
    local a = t_at[i]
    local ticket, tscope, uscope = ARGV[a], ARGV[a + 2], ARGV[a + 3]
    if not seen[tscope] then
      want(cf, tscope); want(cf, 'paused:' .. tscope)
      name_fields(tscope)
      want(bf, spent_f[tscope]); want(bf, reserved_f[tscope])
    end
    if not seen[uscope] then
      want(cf, uscope)
      name_fields(uscope)
      want(bf, spent_f[uscope]); want(bf, reserved_f[uscope])
    end
    if not asked[ticket] then asked[ticket] = true; tf[#tf + 1] = ticket end
  end
  hmget_into(KEYS[1], cf, caps)
  hmget_into(bkey, bf, books)
  -- No global spend or hold yet: the day's hash may be new (its layout mark, its TTL).
  books_fresh = not books['spent:global'] and not books['reserved:global']
  for f, v in pairs(books) do books[f] = (v or 0) + 0 end
  hmget_into(KEYS[4], tf, by_ticket)
  local b = redis.call('HMGET', KEYS[2], 'tokens', 'frac', 'updated_ms', 'rate', 'rate_set_ms',
    'plan_ms', 'live_rung', 'live_reserve', 'live_wait_ms', 'line', 'live_floor')
  if pacing then
    pace = {tokens = (b[1] or burst) + 0, frac = (b[2] or 0) + 0, updated_ms = b[3],
      rate = (b[4] or -1) + 0, rate_set_ms = (b[5] or 0) + 0, rate_used = 0}
  end
  plan = nil
  if b[6] and now - b[6] <= 120000 then
    plan = {rung = (b[7] or 0) + 0, reserve = (b[8] or 0) + 0, wait = (b[9] or 0) + 0,
      line = (b[10] or 0) + 0, floor = (b[11] or 0) + 0}
  end
end

-- Write what the decisions so far changed.
local function flush()
  if #dirty_books > 0 then
    local out = {}
    for j = 1, #dirty_books do
      local f = dirty_books[j]
      out[#out + 1] = f
      out[#out + 1] = books[f]
    end
    if books_fresh then
      out[#out + 1] = BOOKS_MARK
      out[#out + 1] = BOOKS_MARK_VALUE
    end
    redis.call('HSET', bkey, unpack(out))
    if books_fresh then redis.call('EXPIRE', bkey, DAY_TTL_S) end
    books_fresh, dirty_books, is_dirty = false, {}, {}
  end
  if #new_leases > 0 then
    new_leases[#new_leases + 1] = '+inf'
    new_leases[#new_leases + 1] = LEASES_MARK
    redis.call('ZADD', KEYS[3], unpack(new_leases))
    new_leases = {}
  end
  if #new_tickets > 0 then
    -- (The mark again: this hash holds every open reservation's ticket, so as a listpack
    -- each admission's lookup scanned all of them.)
    new_tickets[#new_tickets + 1] = BOOKS_MARK
    new_tickets[#new_tickets + 1] = BOOKS_MARK_VALUE
    redis.call('HSET', KEYS[4], unpack(new_tickets))
    new_tickets = {}
  end
  if pace_dirty then
    redis.call('HSET', KEYS[2], 'tokens', pace.tokens, 'frac', pace.frac, 'updated_ms',
      pace.updated_ms, 'burst', burst, 'rate_used', pace.rate_used)
    pace_dirty = false
  end
end

local function add_hold(f, grant)
  books[f] = books[f] + grant
  if not is_dirty[f] then
    is_dirty[f] = true
    dirty_books[#dirty_books + 1] = f
  end
end

-- Fold one scope into the tightest room so far: `a` what is left beside the holds (what an
-- admission may take), `h` what is left of the cap at all (whether waiting can help today).
local function tighter(a, a_kind, h, h_kind, limit, field_s, field_r, kind)
  local s = books[field_s]
  local av, hv = limit - s - books[field_r], limit - s
  if av < a then a, a_kind = av, kind end
  if hv < h then h, h_kind = hv, kind end
  return a, a_kind, h, h_kind
end

-- A scope's cap: its own (`paceline budget set`), else its tenant profile's, else its kind's
-- (`tenant:*`, `user:*`), else the default. A value that is not a number fails the tickets
-- of that scope only (nothing is kept for it).
local function cap_for(scope, kind_field, default, profile)
  local c = cap_num[scope]
  if not c then
    if profile == '' then profile = nil end
    c = (caps[scope] or profile or caps[kind_field] or default) + 0
    cap_num[scope] = c
  end
  return c
end

-- The decision for one ticket: every cap and the pace, from the values above.
local function decide(a, n)
  local ticket, tscope, user_scope = ARGV[a], ARGV[a + 2], ARGV[a + 3]
  local lane = ARGV[a + 4]
  local slo = lane == 'slo' or lane == 'slo_line'
  local new = lane == 'live' or lane == 'slo'
  local live = slo or new or lane == 'line'
  local paused = caps['paused:' .. tscope]
  if paused and paused + 0 > now then
    return {'defer', '', 0, '', 'tenant_paused', paused + 0, 0}
  end
  local cap_g = cap_for('global', 'global', ARGV[6])
  local cap_t = cap_for(tscope, 'tenant:*', ARGV[7], ARGV[a + 8])
  local cap_u = cap_for(user_scope, 'user:*', ARGV[8], ARGV[a + 9])
  -- Replay and redrive never touch the share of the ceiling kept for live tickets.
  local lane_cap_g = cap_g
  if not live then
    lane_cap_g = math.floor(cap_g * (100 - reserve_pct) / 100)
    -- ... nor what the live plan says the rest of the day's live tickets need.
    if plan and cap_g - plan.reserve < lane_cap_g then lane_cap_g = cap_g - plan.reserve end
  end

  local kind_g = 'global'
  if not live then kind_g = 'live_reserve' end
  local avail, avail_kind, hard, hard_kind = tighter(math.huge, '', math.huge, '', lane_cap_g,
    'spent:global', 'reserved:global', kind_g)
  local ts, tr, us, ur = spent_f[tscope], reserved_f[tscope], spent_f[user_scope],
    reserved_f[user_scope]
  avail, avail_kind, hard, hard_kind = tighter(avail, avail_kind, hard, hard_kind, cap_t, ts, tr,
    'tenant')
  avail, avail_kind, hard, hard_kind = tighter(avail, avail_kind, hard, hard_kind, cap_u, us, ur,
    'user')

  -- The pace bucket: refilled at `rate` micros per hour. When no scheduler has set a fresh
  -- rate, the script derives the even pace itself: what is left of the ceiling over what is
  -- left of the day.
  local tokens = nil
  local rate = 0
  if pacing then
    rate = pace.rate
    if rate < 0 or now - pace.rate_set_ms > 120000 then
      local left = cap_g - books['spent:global'] - books['reserved:global']
      if left < 0 then left = 0 end
      local span = day_end - now
      if span < 60000 then span = 60000 end
      rate = math.floor(left * 3600000 / span)
    end
    tokens = pace.tokens
    local elapsed = now - (pace.updated_ms or now)
    if elapsed < 0 then elapsed = 0 end
    if elapsed > 3600000 then elapsed = 3600000 end
    local added = elapsed * rate + pace.frac
    tokens = tokens + math.floor(added / 3600000)
    local frac = added % 3600000
    if tokens > burst then tokens, frac = burst, 0 end
    pace.tokens, pace.frac, pace.updated_ms, pace.rate_used = tokens, frac, now, rate
    pace_dirty = true
  end
  local bucket_avail = nil
  if pacing then
    bucket_avail = tokens
    -- Live keeps a share of the burst too, so a replay cannot empty the bucket ahead of it:
    -- the plan's floor (what live tickets need until the SLO's decide-by) when it is larger.
    if not live then
      local keep = math.floor(burst * reserve_pct / 100)
      if plan and plan.floor > keep then keep = plan.floor end
      bucket_avail = tokens - keep
    end
  end

  -- A live ticket takes a whole envelope from the bucket or waits: a sliver at the bottom of
  -- the bucket is how a ticket runs dry mid-answer. Degrade before refusing: when the bucket
  -- is low, start from the next cheaper model; under a fresh plan the live lane runs on the
  -- planned rung only.
  local first, last = 1, n
  local whole = live
  -- First come, first served: while tickets wait in the line, a new one waits behind them.
  if plan and new and plan.line > 0 then
    local wait_ms = plan.wait
    if now + wait_ms > day_end then wait_ms = day_end - now end
    return {'defer', '', 0, '', 'pace', now + wait_ms, 0}
  end
  if plan and live and not slo then
    first = plan.rung + 1
    if first > n then first = n end
    last = first
  elseif pacing and n > 1 and tokens * 100 < burst * ARGV[12] then
    first = 2
  end
  for i = first, last do
    local base = a + 10 + (i - 1) * 3
    local model, full, min = ARGV[base], ARGV[base + 1] + 0, ARGV[base + 2] + 0
    local grant = full
    if avail < grant then grant = avail end
    local room = true
    if bucket_avail ~= nil then
      if whole and bucket_avail < math.min(full, burst) then room = false end
      if bucket_avail < grant then grant = bucket_avail end
    end
    if room and grant >= min then
      local rid = ARGV[a + 1]
      local rkey = p .. 'res:' .. rid
      local grant_s = grant
      if grant == full then grant_s = ARGV[base + 1] end
      -- Nine fields, each read by a script (every field written is paid for); taken,
      -- settled and drawn come once non-zero. The lane and the ticket's id are for the
      -- history stream's entries (the id is read from the outcome key the ticket names).
      local okey = ARGV[a + 6] + 0
      local tid = ticket
      if okey > 0 then tid = ticket_id_of(string.sub(KEYS[okey], #p + 8)) end  -- '<p>ticket:'
      redis.call('HSET', rkey, 'grant', grant_s, 'state', 'open', 'day', day, 't', tscope,
        'u', user_scope, 'ticket', ticket, 'model', model, 'lane', ARGV[a + 4], 'tid', tid)
      redis.call('EXPIRE', rkey, ARGV[14])
      -- The rest is written at the end of the batch.
      new_leases[#new_leases + 1] = lease_until
      new_leases[#new_leases + 1] = rid
      new_tickets[#new_tickets + 1] = ticket
      new_tickets[#new_tickets + 1] = rid
      by_ticket[ticket] = rid
      add_hold('reserved:global', grant)
      add_hold(tr, grant)
      add_hold(ur, grant)
      if pacing then pace.tokens = pace.tokens - grant end
      local why = 'full'
      if grant < full then why = 'partial' end
      if i > 1 then why = why .. ':degraded' end
      return {'admit', rid, grant, model, why, 0, 0}
    end
  end

  -- Not admitted: say why, and until when waiting makes sense.
  local lb = a + 10 + (last - 1) * 3
  local last_min = ARGV[lb + 2] + 0
  if hard < last_min then
    local until_ms = day_end
    -- The plan's live reserve shrinks as the day's live demand is met: look again later.
    if hard_kind == 'live_reserve' and plan and now + RESERVE_RETRY_MS < day_end then
      until_ms = now + RESERVE_RETRY_MS
    end
    return {'defer', '', 0, '', hard_kind .. '_daily_cap', until_ms, 0}
  end
  if avail < last_min then
    -- Money is held by reservations in flight; most of it comes back at settle time.
    return {'defer', '', 0, '', avail_kind .. '_cap_held', now + ARGV[13], 0}
  end
  local want = last_min
  if whole then want = math.min(ARGV[lb + 1] + 0, burst) end
  local short = want - bucket_avail
  local wait_ms = day_end - now
  if rate > 0 then wait_ms = math.ceil(short * 3600000 / rate) end
  -- A new live ticket joins the line behind those already waiting for the pace.
  if plan and lane == 'live' and plan.wait > wait_ms then wait_ms = plan.wait end
  if now + wait_ms > day_end then wait_ms = day_end - now end
  return {'defer', '', 0, '', 'pace', now + wait_ms, 0}
end

local finals = {answered = true, escalated = true, rejected = true, dead_lettered = true,
  not_in_rollout = true}

-- One ticket, from the duplicate checks to its decision. `i` is its place in the batch.
local function one(i)
  local a = t_at[i]
  local ticket = ARGV[a]
  -- A duplicate delivery of an event that already ended does nothing.
  local okey = ARGV[a + 6] + 0
  if okey > 0 then
    local o = redis.call('HMGET', KEYS[okey], 'status', 'event_id')
    if o[1] and finals[o[1]] and o[2] == ARGV[a + 5] then
      return {'skip', '', 0, '', 'already_final', 0, 0}
    end
  end

  -- A redelivered ticket (worker crash, retry) keeps drawing from its own envelope.
  local existing = by_ticket[ticket]
  if existing then
    local st = redis.call('HMGET', p .. 'res:' .. existing, 'state', 'grant', 'model')
    if st[1] == 'open' then
      local grant = st[2] + 0
      new_leases[#new_leases + 1] = lease_until
      new_leases[#new_leases + 1] = existing
      return {'admit', existing, grant, st[3], 'reused', 0, 1}
    end
    redis.call('HDEL', KEYS[4], ticket)
    by_ticket[ticket] = false
  end

  -- A hold whose lease ran out (a crashed worker's) counts until it is reaped. It can only
  -- have turned an admission into a refusal, so the leases are looked at only before
  -- refusing (an admission skips that range read; the scheduler reaps on every tick besides).
  local reply = decide(a, t_ncand[i])
  if reply[1] == 'defer' and reply[5] ~= 'tenant_paused' then
    flush()
    local ok, reaped = pcall(reap, p, ARGV[2], 20, KEYS[3], KEYS[4], KEYS[2], KEYS[5])
    if not ok or reaped > 0 then
      load(i)  -- it wrote the books, the pace and by_ticket (even if it then failed)
      if not ok then error(reaped) end
      reply = decide(a, t_ncand[i])
    end
  end
  return reply
end

if n_tickets > 0 then load(1) end
local out = {rel_failed}
for i = 1, n_tickets do
  out[i + 1] = item(one, i)
end
flush()
return out
