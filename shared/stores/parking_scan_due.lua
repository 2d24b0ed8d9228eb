-- parking_scan_due: the shared first half of the parking lot's take scripts.
-- Finds up to ARGV[2] due members of one lane (prefix ARGV[3]) into `out`. The lanes share
-- one sorted set, so it pages past other lanes' due members (up to a bound) instead of
-- looking at only the first few: otherwise a backlog of due replay tickets would hide every
-- due live ticket from the release (live must never wait behind replay).
-- KEYS[1] parked zset   ARGV: 1 now ms, 2 limit, 3 lane prefix
local limit = tonumber(ARGV[2])
local page = math.max(4 * limit, 200)
local out, offset = {}, 0
while #out < limit and offset < 100000 do
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', offset, page)
  for _, m in ipairs(due) do
    if string.sub(m, 1, #ARGV[3]) == ARGV[3] then
      out[#out + 1] = m
      if #out >= limit then break end
    end
  end
  if #due < page then break end
  offset = offset + page
end
