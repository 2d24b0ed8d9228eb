-- outcomes: move one ticket to a status (and keep the per-status counts in step), atomically.
-- KEYS: 1 ticket hash, 2 index zset, 3 counts hash, 4 the history stream, 5 the ticket's thread
--       (conversations only)
-- ARGV: 1 status, 2 event_id, 3 doc json, 4 now ms, 5 ticket key (index member), 6 ttl s, 7 mode,
--       8 the thread's messages as JSON ('' : none); conversations only (a final write):
--       9 the event's thread entry, 10 its model spend (micros), 11 the thread bound,
--       12 the owner reason when a person takes the ticket over ('' : none),
--       13 '1' when this was an automatic answer (counts against the ticket's replies)
-- A final status written goes to the history stream in this script (shared/history/events.py).
--   mode "final": refuse (return 0) when this event already has a final status
--   mode "pending": only write when the ticket has no state or a different event
--   mode "any": overwrite unless this event is already final
--   mode "force": overwrite even a final status (an operator's requeue of a dead letter)
-- In a conversation, a final write for an event while a later event of the ticket waits
-- (pending or parked) leaves the ticket's current state to that later event.
local cur_status = redis.call('HGET', KEYS[1], 'status')
local cur_event = redis.call('HGET', KEYS[1], 'event_id')
local finals = {answered=true, escalated=true, rejected=true, dead_lettered=true, human_owned=true,
  not_in_rollout=true}
if cur_status and cur_event == ARGV[2] then
  if finals[cur_status] and ARGV[7] ~= 'force' then return 0 end
  if ARGV[7] == 'pending' then return 0 end
end
local conversation = KEYS[5] ~= nil and ARGV[9] ~= nil and ARGV[9] ~= ''
local later_waits = conversation and cur_status and cur_event ~= ARGV[2]
  and (cur_status == 'pending' or cur_status == 'parked')
if not later_waits then
  if cur_status then redis.call('HINCRBY', KEYS[3], cur_status, -1) end
  redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'event_id', ARGV[2], 'doc', ARGV[3])
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[5])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
if conversation then
  local n = redis.call('RPUSH', KEYS[5], ARGV[9])
  local max = tonumber(ARGV[11])
  if n > max then
    redis.call('LTRIM', KEYS[5], n - max, -1)
    redis.call('HINCRBY', KEYS[1], 'cut', n - max)
  end
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[6]))
  local spent = tonumber(ARGV[10])
  if spent > 0 then redis.call('HINCRBY', KEYS[1], 'life_micros', spent) end
  if ARGV[13] == '1' then redis.call('HINCRBY', KEYS[1], 'replies', 1) end
  if ARGV[12] ~= '' then redis.call('HSET', KEYS[1], 'owner', 'human', 'owner_reason', ARGV[12]) end
end
if finals[ARGV[1]] then
  if ARGV[8] ~= '' then
    redis.call('XADD', KEYS[4], '*', 'k', 'outcome', 'doc', ARGV[3], 'msgs', ARGV[8])
  else
    redis.call('XADD', KEYS[4], '*', 'k', 'outcome', 'doc', ARGV[3])
  end
end
return 1
