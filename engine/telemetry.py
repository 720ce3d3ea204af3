"""What a consumer tells the store about itself: registry, events, per-minute counters.

All of it is buffered in memory and written by the consumer's heartbeat, one
round trip per beat whatever the traffic (never one per task):

* the worker registry entry (map ``workers``, field = consumer id; a consumer
  that died without deregistering is pruned by a live one's sweep),
* the signals as events in the capped stream: at most EVENTS_PER_BEAT a beat (the
  newest; every event other than ``executing`` and ``complete`` goes before those two),
* per task name and minute: runs, failures, total and max runtime (every call counted,
  one row per task name and minute a beat).

What a beat costs the store is bounded whatever the traffic: a busy worker once wrote
the whole stream's worth (10,000 events) every beat, one script call that held the
server for a few hundred ms and cost a third of a drain's Redis time, for a stream
that keeps only the newest 10,000 anyway. Now at most EVENTS_PER_BEAT events, in
script calls of at most 250 events each (``RedisStorage.record_chunk``).

Runtime floor: listens to a :class:`~engine.core.QueueCore`'s signals. The
record schemas (:class:`~engine.keys.RegistryRecord`,
:class:`~engine.keys.EventRecord`) live in ``engine.keys``, shared with the read
model that parses them.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ._version import __version__
from .core import QueueCore
from .keys import WORKERS, EventRecord, RegistryRecord, StoreRecord
from .signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING, SIGNAL_TIMEOUT
from .storage.base import EVENT_CAP, STATS_TTL, StatRow, Storage
from .task import Task

REGISTRY = WORKERS  # map: consumer id -> registry record
_FAILED = (SIGNAL_ERROR, SIGNAL_TIMEOUT)
#: The events a beat writes at most: the newest, the routine ones (ROUTINE) dropped first.
#: 500 a second at the default 2 s beat; the stream keeps EVENT_CAP (10,000) in all.
EVENTS_PER_BEAT = 1_000
#: Two a call: the first to go when a beat has more events than EVENTS_PER_BEAT.
ROUTINE = frozenset((SIGNAL_EXECUTING, SIGNAL_COMPLETE))
# ts, signal, task id, task name, error summary, runtime
_Event = tuple[float, str, str, str, "str | None", "float | None"]


class Telemetry:
    def __init__(self, huey: QueueCore, consumer_id: str, clock: Callable[[], float] = time.time):
        self.huey = huey
        self.consumer_id = consumer_id
        self.clock = clock
        self._lock = threading.Lock()
        # The newest EVENTS_PER_BEAT routine events, and as many of the others (the
        # deques drop the oldest): a beat writes at most EVENTS_PER_BEAT of the two.
        self._routine: collections.deque[_Event] = collections.deque(maxlen=EVENTS_PER_BEAT)
        self._notable: collections.deque[_Event] = collections.deque(maxlen=EVENTS_PER_BEAT)
        self._stats: dict[tuple[int, str], list[float]] = {}

    def attach(self) -> None:
        self.huey.signals.connect(self.on_signal)

    def detach(self) -> None:
        self.huey.signals.disconnect(self.on_signal)

    def on_signal(self, signal: str, task: Task, *extra: Any) -> None:
        # Kept raw here and encoded at flush time: under load most events fall off the
        # capped stream before they are written, and those are never encoded at all.
        now = self.clock()
        error = repr(extra[0])[:300] if signal == SIGNAL_ERROR and extra else None
        runtime = task.runtime
        event = (now, signal, task.id, task.registered_name, error, runtime)
        with self._lock:
            (self._routine if signal in ROUTINE else self._notable).append(event)
            if signal == SIGNAL_COMPLETE or signal in _FAILED:
                row = self._stats.setdefault(
                    (int(now // 60) * 60, task.registered_name), [0, 0, 0.0, 0.0]
                )
                runtime = runtime or 0.0
                row[0] += 1
                row[1] += signal in _FAILED
                row[2] += runtime
                row[3] = max(row[3], runtime)

    def note(self, event: str, task: Task, error: str | None = None) -> None:
        """An event no signal carries (``dead``: the task went to the dead letters),
        buffered like the others. Not counted in the per-minute statistics."""
        with self._lock:
            self._notable.append(
                (self.clock(), event, task.id, task.registered_name, error, task.runtime)
            )

    def _encode(self, event: _Event) -> bytes:
        ts, signal, task_id, name, error, runtime = event
        record: EventRecord = {
            "ts": ts,
            "event": signal,
            "id": task_id,
            "task": name,
            "worker": self.consumer_id,
        }
        if error is not None:
            record["error"] = error
        if runtime is not None:
            record["runtime"] = round(runtime, 6)
        return json.dumps(record, separators=(",", ":")).encode()

    def _take(self) -> tuple[list[_Event], dict[tuple[int, str], list[float]]]:
        """This beat's events (at most EVENTS_PER_BEAT, oldest first) and counters; the
        buffers start empty again."""
        with self._lock:
            routine, notable, stats = self._routine, self._notable, self._stats
            self._routine = collections.deque(maxlen=EVENTS_PER_BEAT)
            self._notable = collections.deque(maxlen=EVENTS_PER_BEAT)
            self._stats = {}
        room = EVENTS_PER_BEAT - len(notable)
        for _ in range(len(routine) - room):  # the oldest routine events go first
            routine.popleft()
        if not notable:
            return list(routine), stats
        if not routine:
            return list(notable), stats
        # Both in the order they came (each deque is): by time, stable.
        return sorted((*notable, *routine), key=lambda e: e[0]), stats

    def flush(self) -> None:
        """Write this beat's events and counters (one round trip); on failure keep them."""
        events, stats = self._take()
        rows = [StatRow(m, t, int(c), int(f), tot, mx) for (m, t), (c, f, tot, mx) in stats.items()]
        try:
            self.huey.storage.record([self._encode(e) for e in events], rows, EVENT_CAP, STATS_TTL)
        except Exception:
            with self._lock:  # put them back, oldest first, for the next beat
                for e in reversed(events):
                    buffer = self._routine if e[1] in ROUTINE else self._notable
                    if len(buffer) < EVENTS_PER_BEAT:
                        buffer.appendleft(e)
                for key, (c, f, tot, mx) in stats.items():
                    row = self._stats.setdefault(key, [0, 0, 0.0, 0.0])
                    row[0] += c
                    row[1] += f
                    row[2] += tot
                    row[3] = max(row[3], mx)
            raise


#: The ``worker`` of the events an operator's action writes (not a consumer's id).
OPERATOR = "operator"


def operator_event(storage: Storage, event: str, task_id: str, name: str, now: float) -> None:
    """Write one event of an operator's action (``retried``: a dead letter put back)
    to the stream at once: one write per action, never on a worker's path."""
    record: EventRecord = {
        "ts": now,
        "event": event,
        "id": task_id,
        "task": name,
        "worker": OPERATOR,
    }
    storage.record([json.dumps(record, separators=(",", ":")).encode()], [], EVENT_CAP, STATS_TTL)


def registry_record(
    consumer_id: str,
    started: float,
    now: float,
    workers: int,
    worker_type: str,
    running: dict[str, tuple[str, float]],
    processed: int,
    failed: int,
    queue: str,
    store: StoreRecord | None = None,
    state: str = "ok",
    signed: bool = False,
    catalog: str | None = None,
) -> bytes:
    record: RegistryRecord = {
        "id": consumer_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
        "queue": queue,
        "started": started,
        "heartbeat": now,
        "concurrency": workers,
        "worker_type": worker_type,
        "running": [
            {"id": tid, "task": name, "started": at} for tid, (name, at) in running.items()
        ],
        "processed": processed,
        "failed": failed,
    }
    if store is not None:
        record["store"] = store
    if state != "ok":  # what the consumer meets in the store: full, denied, transient ...
        record["store_state"] = state
    if signed:  # so `hueyctl enqueue --url` knows to ask for the key
        record["signed"] = True
    if catalog:  # the digest of the tasks it serves, in the ``catalog`` map
        record["catalog"] = catalog
    return json.dumps(record, separators=(",", ":")).encode()


def queue_is_signed(storage: Storage) -> bool:
    """Whether a queue's workers verify signatures, as far as the store tells: a
    registered worker publishes ``signed`` (while its entry lasts), and a waiting
    message carries ``sig``. False when neither says so (no worker seen, queue empty)."""
    for data in storage.map_items(REGISTRY).values():
        try:
            if json.loads(data).get("signed"):
                return True
        except (ValueError, AttributeError):
            continue
    for message in storage.ready_items(0, 1):
        if b'"sig":' in message.data:
            return True
    return False
