"""Admin commands (status, listings, show, enqueue, revoke, retry, purge, events ...)."""
