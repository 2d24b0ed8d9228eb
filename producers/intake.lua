-- intake: claim a delivery, record the ticket event, and (when it is to be answered) put its
-- message on dramatiq's Redis queue, in one atomic step (the fast path when the broker is this
-- same Redis). No window exists in which a claim is taken but the message is not queued: a
-- crash leaves either nothing (the vendor's retry is accepted) or all of it.
-- Follows shared/stores/converse.lua (its functions are in scope).
-- KEYS: 1 dedupe key, 2 ticket hash, 3 outcomes index, 4 outcome counts,
--       5 dramatiq queue list, 6 dramatiq queue messages hash, 7 the day's live arrivals hash,
--       8 the ticket's thread
-- ARGV: 1 job id, 2 dedupe window s, 3 event id, 4 outcome doc, 5 now ms, 6 ticket key,
--       7 ticket ttl s, 8 redis message id, 9 encoded message, 10 the arrival's hour field
--       ("" for replay and redrive: only live demand is forecast), 11 arrivals ttl s,
--       12 conversation kind ('' : no conversation, a one-shot ticket on a replay lane),
--       13 thread entry, 14 thread bound,
--       15 the queues' wake-up channel, 16 the queue's name
-- Returns {1, job id} when queued, {0, first job id} for a duplicate delivery, {-1, claim}
-- when the general path (RabbitMQ, or a process that died mid-way) holds an unconfirmed claim,
-- {2, job id} for an event recorded and not answered, {3, job id} for a customer message
-- recorded because a person owns the ticket; a third element is 1 when the event opened its
-- ticket's thread.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) == false then
  local first = redis.call('GET', KEYS[1]) or ''
  if string.sub(first, 1, 6) == 'claim:' then return {-1, first} end
  return {0, first}
end
local opened = 0
if ARGV[12] ~= '' then
  local decided
  decided, opened = converse(KEYS[2], KEYS[3], KEYS[4], KEYS[8], ARGV[12], {
    event_id = ARGV[3], entry = ARGV[13], pending_doc = ARGV[4], now_ms = tonumber(ARGV[5]),
    tkey = ARGV[6], ttl = tonumber(ARGV[7]), max = tonumber(ARGV[14])})
  if decided == 'recorded' then return {2, ARGV[1], opened} end
  if decided == 'human_owned' then return {3, ARGV[1], opened} end
else
  -- As OutcomeStore's "pending" transition: a new event replaces the ticket's state.
  local cur_status = redis.call('HGET', KEYS[2], 'status')
  local cur_event = redis.call('HGET', KEYS[2], 'event_id')
  if not (cur_status and cur_event == ARGV[3]) then
    set_status(KEYS[2], KEYS[3], KEYS[4], 'pending', ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6],
      tonumber(ARGV[7]))
  end
end
-- As dramatiq's dispatch.lua "enqueue".
redis.call('HSET', KEYS[6], ARGV[8], ARGV[9])
redis.call('RPUSH', KEYS[5], ARGV[8])
-- Idle consumers of the queue fetch now instead of at their next poll (a hint: nothing is
-- stored, and a consumer that misses it still polls).
redis.call('PUBLISH', ARGV[15], ARGV[16])
if ARGV[10] ~= '' then
  redis.call('HINCRBY', KEYS[7], ARGV[10], 1)
  redis.call('EXPIRE', KEYS[7], tonumber(ARGV[11]))
end
return {1, ARGV[1], opened}
