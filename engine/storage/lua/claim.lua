#!lua flags=allow-oom
-- KEYS: ready levels msg running deliv leases
-- ARGV: consumer now limit lease clock
-- Renew the consumer's lease and claim up to limit tasks; returns (id data deliveries)*.
local ready, levels, msg, running, deliv, leases = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local consumer, now, limit, lease, clock = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- #include lib

return (claim(ready, levels, msg, running, deliv, leases, consumer, now, limit, lease, clock))
