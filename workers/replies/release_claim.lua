-- release_claim: give a reply's claim back, only if it is still ours (another sender may
-- have taken it over after our lease ran out).
-- KEYS[1] the callback marker   ARGV[1] our claim token   -> 1 released, 0 not ours
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
