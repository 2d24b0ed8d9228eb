-- reap: close reservations whose lease ran out. KEYS as release; ARGV: 1 prefix, 2 now, 3 limit
return reap(ARGV[1], ARGV[2], ARGV[3] + 0, KEYS[1], KEYS[2], KEYS[3], KEYS[4])
