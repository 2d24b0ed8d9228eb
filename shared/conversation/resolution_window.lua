-- resolution_window: close the windows that are due, in bulk (common above). Idempotent: a
-- member is resolved only while it is still in the window zset, due, and awaiting, and the
-- same call removes it, so two schedulers (or a repeated tick) never count it twice.
-- KEYS: 1 the window zset, 2 the history stream
-- ARGV: 1 answered at or before this ms is due (now - window), 2 window ms,
--       3 ticket-hash key prefix, 4 bucket-hash key prefix, 5 bucket ttl s, 6 limit
-- Returns the number resolved. Each counts in the quarter hour its window closed, so a
-- scheduler that comes late still counts it on the right day.
local window, history, due_ms, window_ms = KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2])
local ticket_prefix, prefix, ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', window, '-inf', due_ms, 'WITHSCORES', 'LIMIT', 0,
                       tonumber(ARGV[6]))
local resolved = 0
for i = 1, #due, 2 do
  local member, answered_ms = due[i], tonumber(due[i + 1])
  local tkey = ticket_prefix .. member
  if redis.call('HGET', tkey, 'state') == 'awaiting' then
    resolve(tkey, member, window, prefix, 'window', answered_ms + window_ms, ttl, history)
    resolved = resolved + 1
  else
    redis.call('ZREM', window, member)
  end
end
return {resolved, #due / 2}
