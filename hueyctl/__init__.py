"""hueyctl: the operator's tool for the engine's queues (worker, admin, top)."""
