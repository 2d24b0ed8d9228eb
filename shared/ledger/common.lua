-- Shared helpers, prepended to every ledger script (Redis scripts cannot import).
-- Never pass `-x` to HINCRBY: Lua formats negative zero as "-0", which Redis refuses
-- mid-script (and a script error does not roll back what it already wrote). Use `0 - x`.
--
-- Money is integer micro-dollars. Per reservation (hash <p>res:<id>):
--   grant   micros held for the ticket when admitted (its envelope)
--   taken   micros moved from `reserved` to `spent` by settles (<= grant)
--   settled micros the provider actually billed (the truth; normally == taken)
--   drawn   worst case of calls drawn but not yet settled
--   state   open | closed ; day, scopes ("global|tenant:t|user:t:u"), ticket, model, lane
-- Invariant per scope and day: reserved = sum over open reservations of (grant - taken).
-- So spent + reserved only grows at admission, where every cap is checked.

local function k_spent(p, day) return p .. 'ledger:' .. day .. ':spent' end
local function k_reserved(p, day) return p .. 'ledger:' .. day .. ':reserved' end
local function k_calls(p, day) return p .. 'ledger:' .. day .. ':calls' end
local DAY_TTL_S = 8 * 24 * 3600
local RES_TTL_S = 24 * 3600

local function each_scope(scopes, fn)
  for scope in string.gmatch(scopes, '[^|]+') do fn(scope) end
end

-- Refund unused money to the pace bucket, never above its burst.
local function bucket_refund(pace_key, amount)
  if amount <= 0 then return end
  local cur = redis.call('HMGET', pace_key, 'tokens', 'burst')
  if not cur[1] then return end
  local tokens = tonumber(cur[1]) + amount
  local burst = tonumber(cur[2] or tokens)
  if tokens > burst then tokens = burst end
  redis.call('HSET', pace_key, 'tokens', tokens)
end

-- Close an open reservation. Draws not yet settled may have been billed by the provider,
-- so they are charged at their worst case and marked "x:<w>" for a late settle to correct.
-- Returns the micros given back.
local function close_reservation(p, rid, leases_key, by_ticket_key, pace_key)
  local rkey = p .. 'res:' .. rid
  local r = redis.call('HMGET', rkey, 'grant', 'taken', 'drawn', 'day', 'scopes', 'state', 'ticket')
  redis.call('ZREM', leases_key, rid)
  if not r[1] or r[6] ~= 'open' then return 0 end
  local grant, taken, drawn = tonumber(r[1]), tonumber(r[2]), tonumber(r[3])
  local day, scopes = r[4], r[5]
  local outstanding = redis.call('HGETALL', rkey .. ':draws')
  local charge = 0
  for i = 1, #outstanding, 2 do
    local w = tonumber(outstanding[i + 1])
    charge = charge + w
    redis.call('HSET', rkey .. ':settled', outstanding[i], 'x:' .. w)
  end
  redis.call('DEL', rkey .. ':draws')
  local held = grant - taken
  if charge > held then charge = held end
  each_scope(scopes, function(scope)
    redis.call('HINCRBY', k_reserved(p, day), scope, 0 - held)
    if charge > 0 then redis.call('HINCRBY', k_spent(p, day), scope, charge) end
  end)
  if charge > 0 then redis.call('EXPIRE', k_spent(p, day), DAY_TTL_S) end
  redis.call('HSET', rkey, 'state', 'closed', 'drawn', 0,
    'taken', taken + charge, 'settled', tonumber(redis.call('HGET', rkey, 'settled')) + charge)
  redis.call('EXPIRE', rkey, RES_TTL_S)
  redis.call('EXPIRE', rkey .. ':settled', RES_TTL_S)
  if r[7] and redis.call('HGET', by_ticket_key, r[7]) == rid then
    redis.call('HDEL', by_ticket_key, r[7])
  end
  local freed = held - charge
  bucket_refund(pace_key, freed)
  return freed
end

-- Close up to `limit` reservations whose lease ran out (a crashed worker's hold).
local function reap(p, now, limit, leases_key, by_ticket_key, pace_key)
  local expired = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now, 'LIMIT', 0, limit)
  for _, rid in ipairs(expired) do
    close_reservation(p, rid, leases_key, by_ticket_key, pace_key)
  end
  return #expired
end
