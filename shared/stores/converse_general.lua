-- converse (general path): the conversation step of intake.lua for a broker that is not this
-- Redis (RabbitMQ): the claim was taken before, the message is published after, if answered.
-- Follows shared/stores/converse.lua (its functions are in scope).
-- KEYS: 1 ticket hash, 2 outcomes index, 3 outcome counts, 4 thread
-- ARGV: 1 kind, 2 event id, 3 thread entry, 4 pending doc, 5 now ms, 6 ticket key, 7 ttl s,
--       8 thread bound
-- Returns {decision, 1 when the event opened the thread}.
local decided, opened = converse(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], {
  event_id = ARGV[2], entry = ARGV[3], pending_doc = ARGV[4], now_ms = tonumber(ARGV[5]),
  tkey = ARGV[6], ttl = tonumber(ARGV[7]), max = tonumber(ARGV[8])})
return {decided, opened}
