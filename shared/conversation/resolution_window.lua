-- resolution_window: close the windows that are due, in bulk (common above). Idempotent: a
-- member is resolved only while it is still in the window zset, due, and awaiting, and the
-- same call removes it, so two schedulers (or a repeated tick) never count it twice.
-- KEYS: 1 the window zset
-- ARGV: 1 now ms, 2 ticket-hash key prefix, 3 day-hash key prefix, 4 day ttl s,
--       then pairs: ticket key, the budget day its window closed in
-- Returns the number resolved.
local window, now_ms = KEYS[1], tonumber(ARGV[1])
local ticket_prefix, day_prefix, ttl_day = ARGV[2], ARGV[3], tonumber(ARGV[4])
local resolved = 0
for i = 5, #ARGV, 2 do
  local member, day = ARGV[i], ARGV[i + 1]
  local due = tonumber(redis.call('ZSCORE', window, member))
  if due and due <= now_ms then
    local tkey = ticket_prefix .. member
    if redis.call('HGET', tkey, 'state') == 'awaiting' then
      resolve(tkey, member, window, day_prefix .. day, day_prefix, 'window', due, ttl_day)
      resolved = resolved + 1
    else
      redis.call('ZREM', window, member)
    end
  end
end
return resolved
