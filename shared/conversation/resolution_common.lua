-- resolution: the one state machine of a ticket's resolution (shared/conversation/resolutions.py).
-- A ticket's hash (`<ns>:resolution:ticket:<ticket key>`): state (open | awaiting | unresolved |
-- resolved), tenant, bucket (the quarter hour the agent first handled it: its cohort), cmsgs /
-- amsgs (customer and agent messages), human (1 once a person owns it), how, at_ms.
-- The window zset holds ticket keys by the ms of the agent's last answer (state awaiting only);
-- the scheduler resolves those older than the window.
-- A quarter hour's hash (`<ns>:resolution:bucket:<n>`, n = ms // 900000, UTC, so any time
-- zone's day is a whole number of them) holds per tenant t:
--   handled:t, c_resolved:t, c_unresolved:t  (the cohort: tickets first handled then)
--   resolved:t, how:<how>:t, msgs:<n>:t       (resolutions that happened then)
-- `resolved` is terminal: later events leave it (and the counts) as they are. Each resolution
-- also goes to the history stream, in the same script.

local MAX_MSGS_BUCKET = 50
local BUCKET_MS = 900000

local function bucket_of(ms)
  return string.format('%d', math.floor(tonumber(ms) / BUCKET_MS))
end

local function bump_cohort(prefix, bucket, tenant, field, by)
  if not bucket or bucket == '' then return end
  local key = prefix .. bucket
  -- A cohort whose hash has expired is not written again (it would come back partial).
  if redis.call('EXISTS', key) == 0 then return end
  redis.call('HINCRBY', key, field .. ':' .. tenant, by)
end

local function resolve(tkey, member, window, prefix, how, at_ms, ttl, history)
  local st = redis.call('HMGET', tkey, 'state', 'tenant', 'bucket', 'cmsgs', 'amsgs')
  local state, tenant, cohort = st[1], st[2], st[3]
  local msgs = (tonumber(st[4]) or 0) + (tonumber(st[5]) or 0)
  local key = prefix .. bucket_of(at_ms)
  redis.call('HSET', tkey, 'state', 'resolved', 'how', how,
             'at_ms', string.format('%d', tonumber(at_ms)))
  redis.call('ZREM', window, member)
  bump_cohort(prefix, cohort, tenant, 'c_resolved', 1)
  if state == 'unresolved' then bump_cohort(prefix, cohort, tenant, 'c_unresolved', -1) end
  redis.call('HINCRBY', key, 'resolved:' .. tenant, 1)
  redis.call('HINCRBY', key, 'how:' .. how .. ':' .. tenant, 1)
  redis.call('HINCRBY', key, 'msgs:' .. math.min(msgs, MAX_MSGS_BUCKET) .. ':' .. tenant, 1)
  redis.call('EXPIRE', key, ttl)
  -- The history database keeps every resolution (shared/history/events.py, kind `resolution`).
  redis.call('XADD', history, '*', 'k', 'resolution', 'key', member, 'tenant', tenant,
             'how', how, 'msgs', msgs, 'at', string.format('%d', tonumber(at_ms)))
  return 'resolved'
end
