-- converse (general path): the conversation step of intake.lua for a broker that is not this
-- Redis (RabbitMQ): the claim was taken before, the message is published after, if answered.
-- Follows shared/stores/converse.lua (its functions are in scope).
-- KEYS: 1 ticket hash, 2 outcomes index, 3 outcome counts, 4 thread
-- ARGV: 1 kind, 2 event id, 3 thread entry, 4 pending doc, 5 human-owned doc, 6 now ms,
--       7 ticket key, 8 ttl s, 9 thread bound, 10 human-owned entry
return converse(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], {
  event_id = ARGV[2], entry = ARGV[3], pending_doc = ARGV[4], owned_doc = ARGV[5],
  now_ms = tonumber(ARGV[6]), tkey = ARGV[7], ttl = tonumber(ARGV[8]), max = tonumber(ARGV[9]),
  owned_entry = ARGV[10]})
