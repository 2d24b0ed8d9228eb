-- parking_take_due_bulk (after parking_scan_due): the fast path for the Redis broker
-- (scheduler). Like parking_take_due, but moves members in bulk (one ZREM and one ZADD per
-- chunk, not per member) and returns the encoded messages too, so a batch costs a constant
-- number of commands.
-- KEYS[1] parked  KEYS[2] inflight  KEYS[3] messages   ARGV: 1 now ms, 2 limit, 3 lane prefix
if #out == 0 then return {{}, {}} end
for i = 1, #out, 200 do
  local chunk, zs = {}, {}
  for j = i, math.min(i + 199, #out) do
    chunk[#chunk + 1] = out[j]
    zs[#zs + 1] = ARGV[1]
    zs[#zs + 1] = out[j]
  end
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('ZADD', KEYS[2], unpack(zs))
end
return {out, redis.call('HMGET', KEYS[3], unpack(out))}
