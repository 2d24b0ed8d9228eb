-- resolution_event: one conversation event moves a ticket's resolution state (common above).
-- KEYS: 1 the ticket's hash, 2 the window zset, 3 the history stream
-- ARGV: 1 event (answered | escalated | confirmed | unsatisfied | asks_person | other |
--       human | solved), 2 ticket key (window member), 3 tenant, 4 event ms,
--       5 bucket-hash key prefix, 6 ticket ttl s, 7 bucket ttl s,
--       8 '1' when the vendor says a person solved it (solved)
-- Returns the state after the event.
local tkey, window, history = KEYS[1], KEYS[2], KEYS[3]
local event, member, tenant, at_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prefix, ttl_ticket, ttl = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local st = redis.call('HMGET', tkey, 'state', 'bucket', 'human', 'at_ms', 'cmsgs', 'amsgs')
local state, cohort, human = st[1], st[2], st[3] == '1'
-- The same answer told twice (two callers, a retried call) moves nothing: one ticket's
-- answers never share a millisecond.
if event == 'answered' and state == 'awaiting' and st[4] == at_ms then return state end

local function handled_first()
  -- The first time the agent handles the ticket: it joins this quarter hour's cohort.
  if cohort then return cohort end
  local b = bucket_of(at_ms)
  local key = prefix .. b
  redis.call('HSET', tkey, 'bucket', b)
  redis.call('HINCRBY', key, 'handled:' .. tenant, 1)
  redis.call('EXPIRE', key, ttl)
  return b
end

local function unresolve()
  if state ~= 'unresolved' then bump_cohort(prefix, cohort, tenant, 'c_unresolved', 1) end
  redis.call('HSET', tkey, 'state', 'unresolved', 'at_ms', at_ms)
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
  cohort = handled_first()
  -- The agent answering again (a follow-up, a released hand-off) takes the ticket back.
  if state == 'unresolved' then bump_cohort(prefix, cohort, tenant, 'c_unresolved', -1) end
  -- The ticket was asked at least once before it was answered (its first message).
  redis.call('HSET', tkey, 'state', 'awaiting', 'human', 0, 'at_ms', at_ms,
             'cmsgs', math.max(tonumber(st[5]) or 0, 1), 'amsgs', (tonumber(st[6]) or 0) + 1)
  redis.call('ZADD', window, tonumber(at_ms), member)
  result = 'awaiting'
elseif event == 'escalated' then
  cohort = handled_first()
  redis.call('HSET', tkey, 'human', 1)
  result = unresolve()
elseif event == 'human' then
  redis.call('HSET', tkey, 'human', 1)
  if cohort then result = unresolve() else
    redis.call('HSET', tkey, 'state', 'unresolved')
    result = 'unresolved'
  end
elseif event == 'solved' then
  if ARGV[8] == '1' then redis.call('HSET', tkey, 'human', 1); human = true end
  if cohort and not human then
    result = resolve(tkey, member, window, prefix, 'solved', at_ms, ttl, history)
  elseif cohort then result = unresolve()
  else result = state or 'open' end
else
  -- A customer message, by what it says.
  redis.call('HINCRBY', tkey, 'cmsgs', 1)
  if not state then redis.call('HSET', tkey, 'state', 'open'); state = 'open' end
  if not cohort then
    result = state  -- not answered yet: nothing to judge
  elseif event == 'confirmed' and not human then
    result = resolve(tkey, member, window, prefix, 'confirmed', at_ms, ttl, history)
  elseif event == 'unsatisfied' or event == 'asks_person' then
    result = unresolve()
  elseif state == 'awaiting' then
    -- A new question: the window waits for the agent's next answer.
    redis.call('HSET', tkey, 'state', 'open')
    redis.call('ZREM', window, member)
    result = 'open'
  else
    result = state
  end
end
return result
