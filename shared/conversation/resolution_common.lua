-- resolution: the one state machine of a ticket's resolution (shared/conversation/resolutions.py).
-- A ticket's hash (`<ns>:resolution:ticket:<ticket key>`): state (open | awaiting | unresolved |
-- resolved), tenant, day (the budget day the agent first handled it: its cohort), cmsgs / amsgs
-- (customer and agent messages), human (1 once a person owns it), how, at_ms, deadline_ms.
-- The window zset holds ticket keys by the ms their window closes (state awaiting only).
-- A day's hash (`<ns>:resolution:day:<day>`) holds per tenant t:
--   handled:t, c_resolved:t, c_unresolved:t  (the cohort: tickets first handled that day)
--   resolved:t, how:<how>:t, msgs:<n>:t       (resolutions that happened that day)
-- `resolved` is terminal: later events leave it (and the day's counts) as they are.

local MAX_MSGS_BUCKET = 50

local function bump_cohort(day_prefix, day, tenant, field, by, ttl)
  if not day or day == '' then return end
  local key = day_prefix .. day
  -- A cohort whose day hash has expired is not written again (it would come back partial).
  if redis.call('EXISTS', key) == 0 then return end
  redis.call('HINCRBY', key, field .. ':' .. tenant, by)
end

local function resolve(tkey, member, window, day_key, day_prefix, how, now_ms, ttl_day)
  local st = redis.call('HMGET', tkey, 'state', 'tenant', 'day', 'cmsgs', 'amsgs')
  local state, tenant, day = st[1], st[2], st[3]
  local msgs = (tonumber(st[4]) or 0) + (tonumber(st[5]) or 0)
  redis.call('HSET', tkey, 'state', 'resolved', 'how', how, 'at_ms', now_ms)
  redis.call('HDEL', tkey, 'deadline_ms')
  redis.call('ZREM', window, member)
  bump_cohort(day_prefix, day, tenant, 'c_resolved', 1, ttl_day)
  if state == 'unresolved' then bump_cohort(day_prefix, day, tenant, 'c_unresolved', -1, ttl_day) end
  redis.call('HINCRBY', day_key, 'resolved:' .. tenant, 1)
  redis.call('HINCRBY', day_key, 'how:' .. how .. ':' .. tenant, 1)
  redis.call('HINCRBY', day_key, 'msgs:' .. math.min(msgs, MAX_MSGS_BUCKET) .. ':' .. tenant, 1)
  redis.call('EXPIRE', day_key, ttl_day)
  return 'resolved'
end
