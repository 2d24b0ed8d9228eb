-- publish: make a fully written index image the tenant's current one, in one atomic step.
-- Only the import holding the tenant's lock may publish. The new image loses its staging
-- TTL; the one it replaces keeps a short grace so a worker that just read the old pointer
-- can still load it.
-- KEYS[1] current (string)  KEYS[2] the new image  KEYS[3] lock  KEYS[4] kb tenants (set)
-- ARGV: 1 new version, 2 lock token, 3 prefix of the tenant's image keys, 4 grace s, 5 tenant
-- Returns 1 published, -1 the lock is not ours (expired or taken), -2 the image is gone
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
local old = redis.call('GET', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[5])
if old and old ~= ARGV[1] then redis.call('EXPIRE', ARGV[3] .. old, ARGV[4]) end
return 1
