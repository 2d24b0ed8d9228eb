-- spend_sample: record the day's spend as of now in this hour's slot; returns it (micros).
-- Spend only grows within a day, so each hour keeps the largest value seen in it.
-- KEYS: 1 the day's books, 2 hourly series   ARGV: 1 hour, 2 ttl s
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent:global') or '0')
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if spent > cur then
  redis.call('HSET', KEYS[2], ARGV[1], spent)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
end
return spent
