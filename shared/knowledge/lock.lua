-- lock: renew or release a tenant's import lock, only if it is still ours.
-- KEYS[1] lock  ARGV: 1 token, 2 "renew" | "release", 3 lease ms (renew)
-- Returns 1 done, 0 the lock is not ours (it expired, maybe another import holds it)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[3])
