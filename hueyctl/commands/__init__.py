"""The commands, grouped by what the operator is doing: ``overview`` (the queue as
a whole), ``tasks`` (listings and one task), ``steer`` (enqueue, revoke, restore),
``cleanup`` (retry, delete, purge, flush locks), ``worker``, ``top`` and ``demo``.

Each module exports its click commands and imports ``options``, ``resolve``,
``render`` and ``present``, never ``hueyctl.cli``: the root group adds them.
"""
