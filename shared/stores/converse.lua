-- converse (a prelude): one event of a live conversation into its ticket's thread and state.
-- The ticket hash keeps, beside the outcome (`status`, `event_id`, `doc`), the conversation:
--   owner ('' or 'human'), owner_reason, phase ('' | 'solved' | 'closed'), replies (automatic
--   answers so far), life_micros (model spend on the ticket, every event), cut (thread
--   entries dropped from the front of the bounded thread).
-- The thread is a list of JSON entries, the last `max` kept.

local function set_status(ticket, index, counts, status, event_id, doc, now_ms, tkey, ttl)
  local cur = redis.call('HGET', ticket, 'status')
  if cur then redis.call('HINCRBY', counts, cur, -1) end
  redis.call('HINCRBY', counts, status, 1)
  redis.call('HSET', ticket, 'status', status, 'event_id', event_id, 'doc', doc)
  redis.call('EXPIRE', ticket, ttl)
  redis.call('ZADD', index, now_ms, tkey)
end

local function push_entry(ticket, thread, entry, max, ttl)
  local n = redis.call('RPUSH', thread, entry)
  if n > max then
    redis.call('LTRIM', thread, n - max, -1)
    redis.call('HINCRBY', ticket, 'cut', n - max)
  end
  redis.call('EXPIRE', thread, ttl)
end

-- The event's `human_owned` outcome: its pending outcome (compact JSON, `status` and
-- `reason` once each at the top level) with those two fields changed, and its thread entry.
local function owned(c, why)
  local doc = string.gsub(c.pending_doc, '"status":"pending"', '"status":"human_owned"', 1)
  doc = string.gsub(doc, '"reason":null', '"reason":"' .. why .. '"', 1)
  local entry = cjson.encode({k = 'out', e = c.event_id, s = 'human_owned', why = why,
    at = c.now_ms})
  return doc, entry
end

-- The state change of one event (see `converse`).
local function converse_step(ticket, index, counts, thread, kind, c)
  push_entry(ticket, thread, c.entry, c.max, c.ttl)
  if kind == 'customer' then
    local owner = redis.call('HGET', ticket, 'owner')
    if owner == 'human' then
      local why = redis.call('HGET', ticket, 'owner_reason') or 'human_owned'
      local doc, entry = owned(c, why)
      set_status(ticket, index, counts, 'human_owned', c.event_id, doc, c.now_ms, c.tkey, c.ttl)
      push_entry(ticket, thread, entry, c.max, c.ttl)
      return 'human_owned'
    end
    -- A customer writing on a solved ticket reopens it (as the vendors do).
    redis.call('HSET', ticket, 'phase', '')
    local cur_status = redis.call('HGET', ticket, 'status')
    local cur_event = redis.call('HGET', ticket, 'event_id')
    if not (cur_status and cur_event == c.event_id) then
      set_status(ticket, index, counts, 'pending', c.event_id, c.pending_doc, c.now_ms, c.tkey, c.ttl)
    end
    return 'enqueue'
  end
  if kind == 'human' then
    redis.call('HSET', ticket, 'owner', 'human', 'owner_reason', 'human_replied', 'human_replied', '1')
    local doc = owned(c, 'human_replied')
    set_status(ticket, index, counts, 'human_owned', c.event_id, doc, c.now_ms, c.tkey, c.ttl)
  elseif kind == 'solved' or kind == 'closed' then
    redis.call('HSET', ticket, 'phase', kind)
    redis.call('EXPIRE', ticket, c.ttl)
  end
  return 'recorded'
end

-- kind: 'customer' | 'human' | 'bot' | 'solved' | 'closed'. Returns 'enqueue' (answer it),
-- 'human_owned' (a customer message a person owns: recorded) or 'recorded', and 1 when this
-- event opened the thread (the ticket had none), else 0.
-- c: {event_id, entry, pending_doc, now_ms, tkey, ttl, max}
local function converse(ticket, index, counts, thread, kind, c)
  local first = redis.call('EXISTS', thread) == 0 and 1 or 0
  local decided = converse_step(ticket, index, counts, thread, kind, c)
  return decided, first
end
