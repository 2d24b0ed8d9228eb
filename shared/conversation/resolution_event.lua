-- resolution_event: one conversation event moves a ticket's resolution state (common above).
-- KEYS: 1 the ticket's hash, 2 the window zset, 3 today's day hash
-- ARGV: 1 event (answered | escalated | confirmed | unsatisfied | asks_person | other |
--       human | solved), 2 ticket key (window member), 3 tenant, 4 now ms, 5 today,
--       6 window close ms (answered), 7 day-hash key prefix, 8 ticket ttl s, 9 day ttl s,
--       10 '1' when the vendor says a person solved it (solved)
-- Returns the state after the event.
local tkey, window, day_key = KEYS[1], KEYS[2], KEYS[3]
local event, member, tenant, now_ms, today = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local day_prefix, ttl_ticket, ttl_day = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local st = redis.call('HMGET', tkey, 'state', 'day', 'human')
local state, day, human = st[1], st[2], st[3] == '1'

local function handled_first()
  -- The first time the agent handles the ticket: it joins today's cohort.
  if day then return day end
  redis.call('HSET', tkey, 'day', today)
  redis.call('HINCRBY', day_key, 'handled:' .. tenant, 1)
  redis.call('EXPIRE', day_key, ttl_day)
  return today
end

local function unresolve()
  if state ~= 'unresolved' then
    bump_cohort(day_prefix, day, tenant, 'c_unresolved', 1, ttl_day)
  end
  redis.call('HSET', tkey, 'state', 'unresolved', 'at_ms', now_ms)
  redis.call('HDEL', tkey, 'deadline_ms')
  redis.call('ZREM', window, member)
  return 'unresolved'
end

if state == 'resolved' then return 'resolved' end
if not state then
  redis.call('HSET', tkey, 'tenant', tenant, 'cmsgs', 0, 'amsgs', 0, 'human', 0)
end
redis.call('EXPIRE', tkey, ttl_ticket)

local result
if event == 'answered' then
  day = handled_first()
  -- The ticket was asked at least once before it was answered (a one-shot ticket's body).
  if (tonumber(redis.call('HGET', tkey, 'cmsgs')) or 0) == 0 then
    redis.call('HSET', tkey, 'cmsgs', 1)
  end
  redis.call('HINCRBY', tkey, 'amsgs', 1)
  -- The agent answering again (a follow-up, a released hand-off) takes the ticket back.
  if state == 'unresolved' then bump_cohort(day_prefix, day, tenant, 'c_unresolved', -1, ttl_day) end
  redis.call('HSET', tkey, 'state', 'awaiting', 'human', 0, 'deadline_ms', ARGV[6])
  redis.call('ZADD', window, tonumber(ARGV[6]), member)
  result = 'awaiting'
elseif event == 'escalated' then
  day = handled_first()
  redis.call('HSET', tkey, 'human', 1)
  result = unresolve()
elseif event == 'human' then
  redis.call('HSET', tkey, 'human', 1)
  if day then result = unresolve() else
    redis.call('HSET', tkey, 'state', 'unresolved')
    result = 'unresolved'
  end
elseif event == 'solved' then
  if ARGV[10] == '1' then redis.call('HSET', tkey, 'human', 1); human = true end
  if day and not human then
    result = resolve(tkey, member, window, day_key, day_prefix, 'solved', now_ms, ttl_day)
  elseif day then result = unresolve()
  else result = state or 'open' end
else
  -- A customer message, by what it says.
  redis.call('HINCRBY', tkey, 'cmsgs', 1)
  if not state then redis.call('HSET', tkey, 'state', 'open'); state = 'open' end
  if not day then
    result = state  -- not answered yet: nothing to judge
  elseif event == 'confirmed' and not human then
    result = resolve(tkey, member, window, day_key, day_prefix, 'confirmed', now_ms, ttl_day)
  elseif event == 'unsatisfied' or event == 'asks_person' then
    result = unresolve()
  elseif state == 'awaiting' then
    -- A new question: the window waits for the agent's next answer.
    redis.call('HSET', tkey, 'state', 'open')
    redis.call('HDEL', tkey, 'deadline_ms')
    redis.call('ZREM', window, member)
    result = 'open'
  else
    result = state
  end
end
return result
