-- outcomes: move one ticket to a status (and keep the per-status counts in step), atomically.
-- KEYS: 1 ticket hash, 2 index zset, 3 counts hash, 4 the history stream
-- ARGV: 1 status, 2 event_id, 3 doc json, 4 now ms, 5 ticket key (index member), 6 ttl s, 7 mode,
--       8 the thread's messages as JSON ('' : none)
-- A final status written goes to the history stream in this script (shared/history/events.py).
--   mode "final": refuse (return 0) when this event already has a final status
--   mode "pending": only write when the ticket has no state or a different event
--   mode "any": overwrite unless this event is already final
--   mode "force": overwrite even a final status (an operator's requeue of a dead letter)
local cur_status = redis.call('HGET', KEYS[1], 'status')
local cur_event = redis.call('HGET', KEYS[1], 'event_id')
local finals = {answered=true, escalated=true, rejected=true, dead_lettered=true}
if cur_status and cur_event == ARGV[2] then
  if finals[cur_status] and ARGV[7] ~= 'force' then return 0 end
  if ARGV[7] == 'pending' then return 0 end
end
if cur_status then redis.call('HINCRBY', KEYS[3], cur_status, -1) end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'event_id', ARGV[2], 'doc', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[5])
if finals[ARGV[1]] then
  if ARGV[8] ~= '' then
    redis.call('XADD', KEYS[4], '*', 'k', 'outcome', 'doc', ARGV[3], 'msgs', ARGV[8])
  else
    redis.call('XADD', KEYS[4], '*', 'k', 'outcome', 'doc', ARGV[3])
  end
end
return 1
