"""hueyctl: the operator's tool for the engine's queues (worker, admin, top)."""

# The demo's SQLite file: `hueyctl demo` sets it (a new file per run unless --db names one)
# and hueyctl.demo_app, imported by the demo and by its worker, reads it.
DEMO_DB_ENV = "HUEYCTL_DEMO_DB"
