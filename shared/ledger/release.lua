-- release: close a reservation, give back what it did not spend. Idempotent.
-- KEYS[1] leases  KEYS[2] by_ticket  KEYS[3] pace  KEYS[4] history stream
-- ARGV: 1 prefix, 2 reservation id, 3 now ms
return close_reservation(ARGV[1], ARGV[2], KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[3])
