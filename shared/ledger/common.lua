-- Shared helpers, prepended to every ledger script (Redis scripts cannot import).
-- Never pass `-x` to Redis: Lua formats negative zero as "-0", which Redis refuses
-- mid-script (and a script error does not roll back what it already wrote). Use `0 - x`.
--
-- Money is integer micro-dollars. Per reservation (hash <p>res:<id>):
--   grant   micros held for the ticket when admitted (its envelope)
--   taken   micros moved from `reserved` to `spent` by settles (<= grant)
--   settled micros the provider actually billed (the truth; normally == taken)
--   drawn   worst case of calls drawn but not yet settled
--           (taken, settled and drawn are written once non-zero: absent reads as 0)
--   state   open | closed ; day, t and u (the tenant and user scopes: "tenant:<t>",
--           "user:<t>:<u>"; the third is global), ticket (its key), model, lane, tid
--           (the ticket's id, for the history; the key stands in where none was given)
--   d:<call> a drawn call's worst case (until it settles)
--   s:<call> what a call cost ("x:<w>" when the lease ran out first and charged its worst case)
-- Its lease is its score in the leases set.
-- The day's books (hash <p>ledger:<day>): spent:<scope>, reserved:<scope>, calls:global.
-- Invariant per scope and day: reserved = sum over open reservations of (grant - taken).
-- So spent + reserved only grows at admission, where every cap is checked.
--
-- What a script costs is counted in instructions (`make bench-lua`; figures in
-- docs/benchmarks.md). A script reads a hash in one HMGET; the books move by HINCRBY (see
-- books_incr), not by a read-add-write in Lua.
-- Strings from Redis become numbers by arithmetic (`v + 0`, `(v or 0) + d`), not tonumber():
-- Lua 5.1's tonumber parses a string twice (lua_isnumber, then lua_tonumber), each a strtod.

local function k_books(p, day) return p .. 'ledger:' .. day end

-- The ticket id in a ticket key (shared/keys.py `scoped`: length-prefixed tenant, source, id):
-- its last part; a key that is not one (written before keys named tenant and source) is the id.
local function ticket_id_of(key)
  local pos, last = 1, nil
  while pos <= #key do
    local colon = string.find(key, ':', pos, true)
    local n = colon and tonumber(string.sub(key, pos, colon - 1))
    if not n or colon + n > #key then return key end
    last = string.sub(key, colon + 1, colon + n)
    pos = colon + n + 2
  end
  return last or key
end
local DAY_TTL_S = 8 * 24 * 3600
-- Written into a new day's books (and the by_ticket hash): a value longer than Redis's
-- hash-max-listpack-value (64 bytes by default) makes the hash a hash table from the start.
-- As a listpack (below 128 fields: up to ~40 scopes) every field lookup scans the whole hash,
-- and with a few dozen requesters in the day that scan is a large part of a settle.
local BOOKS_MARK = '_layout'
local BOOKS_MARK_VALUE = 'hash table on purpose: keeps lookups O(1) (shared/ledger/common.lua)'

local RES_TTL_S = 24 * 3600

-- The same for the leases set (a member longer than zset-max-listpack-value makes it a skip
-- list): as a listpack, below 128 members, every ZADD scans the set parsing each member's
-- score with strtod. Its score is +inf, so no lease ever reaches it and the reaper never
-- reads it.
local LEASES_MARK =
  '_layout: a skip list on purpose, keeps ZADD O(log n) (shared/ledger/common.lua)'

-- A reservation's scopes: global, then its `t` and `u` fields. One opened before those fields
-- existed holds a single "global|<t>|<u>" string instead (a worker upgraded mid-ticket settles
-- or closes it), read from `legacy` (its `scopes` field).
local function res_scopes(t, u, legacy)
  if not t then t, u = string.match(legacy or '', '^global|([^|]+)|([^|]+)$') end
  if not t then error('reservation without scopes') end
  return {'global', t, u}
end

-- Add `delta` to `prefix .. scope` in the day's books for every scope, by HINCRBY: Redis adds
-- in C. Pass deltas as the strings they came in (ARGV) where possible: a Lua number sent to
-- Redis is formatted with "%.17g" and a value read back is parsed with strtod, so a
-- read-add-write in Lua (one HMGET, one HSET) costs more than a HINCRBY per field.
-- Never pass "-0" (Redis refuses it): skip a zero delta. Returns the first scope's new value.
local function books_incr(bkey, scopes, prefix, delta)
  local first = redis.call('HINCRBY', bkey, prefix .. scopes[1], delta)
  for i = 2, #scopes do redis.call('HINCRBY', bkey, prefix .. scopes[i], delta) end
  return first
end

-- The books were written where a global field had been zero: the hash may be new (a late
-- settle after the day's hash expired, an eviction). Give it its layout mark and its TTL.
local function books_check_new(bkey)
  if redis.call('TTL', bkey) == -1 then
    redis.call('HSET', bkey, BOOKS_MARK, BOOKS_MARK_VALUE)
    redis.call('EXPIRE', bkey, DAY_TTL_S)
  end
end

-- Run `f(...)` for one item of a batch script: its reply, or {'error', message} when it
-- failed (a Lua error, or a redis.call error, which Redis 7 raises as a table).
local function item(f, ...)
  local ok, reply = pcall(f, ...)
  if ok then return reply end
  if type(reply) == 'table' then reply = reply.err end
  return {'error', tostring(reply)}
end

-- Refund unused money to the pace bucket, never above its burst.
local function bucket_refund(pace_key, amount)
  if amount <= 0 then return end
  local cur = redis.call('HMGET', pace_key, 'tokens', 'burst')
  if not cur[1] then return end
  local tokens = cur[1] + amount
  local burst = (cur[2] or tokens) + 0
  if tokens > burst then tokens = burst end
  redis.call('HSET', pace_key, 'tokens', tokens)
end

-- The history stream (shared/history/events.py): one settled call, or one charged at its
-- worst case when the lease ran out first (`expired`), added in the same script as the move
-- of the books it records, so the database sees every micro-dollar the books do. `res` holds
-- the reservation's t, u, ticket, tid, lane, model and day; `scopes` its three scopes.
local function history_call(stream, rid, call, res, scopes, cost, at, expired, usage)
  local tenant = string.sub(scopes[2], 8)  -- after 'tenant:'
  local model = res[6] or ''
  local pt, ct, ot = '0', '0', '0'
  if usage then
    pt, ct, ot = usage[1], usage[2], usage[3]
    if usage[4] ~= '' then model = usage[4] end
  end
  redis.call('XADD', stream, '*', 'k', 'call', 'rid', rid, 'call', call,
    'ticket', res[4] or res[3] or '', 'tenant', tenant,
    'requester', string.sub(scopes[3], #tenant + 7),  -- after 'user:<tenant>:'
    'model', model, 'lane', res[5] or 'live', 'pt', pt, 'ct', ct, 'ot', ot, 'cost', cost,
    'day', res[7], 'at', at, 'x', expired)
end

-- Close an open reservation. Draws not yet settled may have been billed by the provider,
-- so they are charged at their worst case and marked "x:<w>" for a late settle to correct.
-- Each charged call goes to the history stream. Returns the micros given back.
local function close_reservation(p, rid, leases_key, by_ticket_key, pace_key, stream, now)
  local rkey = p .. 'res:' .. rid
  redis.call('ZREM', leases_key, rid)
  -- The named fields in one HMGET; the whole hash only when draws are outstanding (`drawn`
  -- is the sum of the d: fields), which a ticket that settled its calls never has: converting
  -- a HGETALL reply into Lua tables is dear next to the rest of a release.
  local v = redis.call('HMGET', rkey, 'state', 'grant', 'taken', 'settled', 'drawn', 'day',
    't', 'u', 'ticket', 'scopes')
  if v[1] ~= 'open' then return 0 end
  local marks, dels, charged = {}, {}, {}
  local charge = 0
  if (v[5] or 0) + 0 ~= 0 then
    local flat = redis.call('HGETALL', rkey)
    for i = 1, #flat, 2 do
      local f = flat[i]
      if string.sub(f, 1, 2) == 'd:' then
        local w = flat[i + 1]
        charge = charge + w
        marks[#marks + 1] = 's:' .. string.sub(f, 3)
        marks[#marks + 1] = 'x:' .. w
        dels[#dels + 1] = f
        charged[#charged + 1] = string.sub(f, 3)
        charged[#charged + 1] = w
      end
    end
  end
  local scopes = res_scopes(v[7], v[8], v[10])  -- before any write but the ZREM
  local grant, taken = v[2] + 0, (v[3] or 0) + 0
  if #dels > 0 then redis.call('HDEL', rkey, unpack(dels)) end
  local held = grant - taken
  if charge > held then charge = held end
  local bkey = k_books(p, v[6])
  if held > 0 then books_incr(bkey, scopes, 'reserved:', 0 - held) end
  if charge > 0 and books_incr(bkey, scopes, 'spent:', charge) == charge then
    books_check_new(bkey)
  end
  if #charged > 0 then
    -- Each call's charge as the books took it (their sum is `charge`, capped at `held`).
    local res = redis.call('HMGET', rkey, 't', 'u', 'ticket', 'tid', 'lane', 'model')
    res[7] = v[6]
    local left = charge
    for i = 1, #charged, 2 do
      local c = charged[i + 1] + 0
      if c > left then c = left end
      left = left - c
      history_call(stream, rid, charged[i], res, scopes, c, now, '1', nil)
    end
  end
  -- Only what changed is written: `drawn` is the sum of the d: fields (zero without them),
  -- taken and settled move only by a charge. A ticket that drew nothing writes its state.
  marks[#marks + 1] = 'state'
  marks[#marks + 1] = 'closed'
  if #dels > 0 then
    marks[#marks + 1] = 'drawn'
    marks[#marks + 1] = 0
  end
  if charge > 0 then
    marks[#marks + 1] = 'taken'
    marks[#marks + 1] = taken + charge
    marks[#marks + 1] = 'settled'
    marks[#marks + 1] = (v[4] or 0) + charge
  end
  redis.call('HSET', rkey, unpack(marks))
  -- No EXPIRE here: the hash keeps the TTL its admission or its last draw gave it (a day
  -- past the lease), so a closed reservation stays readable for late settles for about a
  -- day either way (a ticket closes within its lease, or is reaped soon after it).
  if v[9] and redis.call('HGET', by_ticket_key, v[9]) == rid then
    redis.call('HDEL', by_ticket_key, v[9])
  end
  local freed = held - charge
  bucket_refund(pace_key, freed)
  return freed
end

-- Close up to `limit` reservations whose lease ran out (a crashed worker's hold).
local function reap(p, now, limit, leases_key, by_ticket_key, pace_key, stream)
  local expired = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now, 'LIMIT', 0, limit)
  for _, rid in ipairs(expired) do
    close_reservation(p, rid, leases_key, by_ticket_key, pace_key, stream, now)
  end
  return #expired
end
