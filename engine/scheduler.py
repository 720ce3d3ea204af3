"""Promoting due scheduled tasks and firing periodic tasks, one step at a time.

``Scheduler.step(now)`` does one round and returns when it next wants to run,
so the consumer sleeps exactly until then (woken early by new work) and tests
drive it with an injected clock.

Periodic tasks follow the wall clock: each whole minute is a *slot*; a task
whose crontab matches the slot is enqueued by whichever consumer first claims
``slot:<task>:<minute>`` in the store, so a slot fires once however many
consumers run. Only the current minute is considered: a slot missed while no
consumer ran is not fired later.

Runtime floor: works on a :class:`~engine.core.QueueCore` and its registry of
task specs; the slot and map names are ``engine.keys``'.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from .core import QueueCore
from .crontab import clock_time, from_clock_time
from .keys import PERIODIC, PERIODIC_RUNS, REVOKE_TASK, SLOT, PeriodicRecord, slot_key
from .signals import SIGNAL_ENQUEUED
from .task import TaskSpec

log = logging.getLogger("huey.scheduler")

__all__ = ["LAST_RUN", "SLOT", "SPECS", "Scheduler", "clock_time", "from_clock_time"]

# Maps, field = task name: crontabs published by consumers (so tools without the
# application's code can list periodic tasks), and when each last fired.
SPECS = PERIODIC
LAST_RUN = PERIODIC_RUNS
# A consumer starting this many seconds into a minute still fires that minute's slot.
START_GRACE = 10.0


class Scheduler:
    def __init__(
        self,
        huey: QueueCore,
        periodic: bool = True,
        utc: bool | None = None,
        interval: float = 1.0,
        slot_ttl: float = 3600.0,
    ) -> None:
        self.huey = huey
        self.periodic = periodic
        self.utc = huey.utc if utc is None else utc
        self.interval = interval
        self.slot_ttl = slot_ttl
        self._last_minute: int | None = None

    def step(self, now: float) -> float:
        """Promote due tasks, fire due periodic slots; return seconds until next needed."""
        self.huey.storage.promote_all(now)
        wait = self.periodic_step(now)
        next_eta = self.huey.storage.next_eta()
        if next_eta is not None:
            wait = min(wait, next_eta - now)
        return max(0.0, wait)

    def periodic_step(self, now: float) -> float:
        """Fire due periodic slots (the store is touched once a minute at most); return
        how long until the next minute boundary, or the interval."""
        if not self.periodic or not self.huey.periodic_specs():
            return self.interval
        self._fire_periodic(now)
        return max(0.0, min(self.interval, (int(now // 60) + 1) * 60 - now))

    def clock_time(self, ts: float) -> dt.datetime:
        return clock_time(ts, self.utc)

    def publish(self) -> None:
        """Record every periodic task's crontab in the store, for ``hueyctl periodic``."""
        for task in self.huey.periodic_specs():
            spec = getattr(task.periodic, "spec", None)
            if spec:
                rec: PeriodicRecord = {"crontab": spec, "utc": self.utc}
                self.huey.storage.map_set(SPECS, task.name, json.dumps(rec).encode())

    def _fire_periodic(self, now: float) -> None:
        minute = int(now // 60) * 60
        if self._last_minute is None:
            self._last_minute = minute - 60 if now - minute < START_GRACE else minute
            self.publish()
        if minute <= self._last_minute:
            return
        when = self.clock_time(minute)
        for spec in self.huey.periodic_specs():
            assert spec.periodic is not None
            try:
                due = spec.periodic(when)
            except Exception:
                log.exception("crontab of %s failed", spec.name)
                continue
            if due and self.fire(spec, minute, now):
                log.info("periodic %s fired for %s", spec.name, when.isoformat())
        # Only now: had the store failed above, the next step tries this minute again
        # (slots already fired stay fired).
        self._last_minute = minute

    def fire(self, spec: TaskSpec, minute: int, now: float) -> bool:
        """Enqueue the task for this slot unless some consumer already did: the slot
        claim and the enqueue are one atomic step of the store."""
        task = self.huey.new_call(spec)
        msg = self.huey.prepare(task, now)
        if not self.huey.storage.enqueue_unique(slot_key(spec.name, minute), self.slot_ttl, msg):
            return False
        self.huey.signals.send(SIGNAL_ENQUEUED, task)
        # LAST RUN names a run that happens: a slot the task's revocation skips is not one.
        if self.huey.revocations.record(REVOKE_TASK + spec.name, now) is None:
            self.huey.storage.map_set(LAST_RUN, spec.name, str(minute).encode())
        return True
