"""Steering running work from outside: pause and resume a queue or a task name, and
cancel a running call. What ``hueyctl pause|resume|cancel`` and ``top`` call.

Runtime floor: works on a :class:`~engine.core.QueueCore`'s store through the
``pauses`` and ``cancels`` maps (``engine.keys``); workers act on them (see
``engine.consumer``). Each action is one store write, plus one event in the stream
naming who did it (``admin.pause``, ``admin.resume``, ``admin.cancel``).

* A pause is a record in ``pauses``: field ``*`` for the whole queue, or a task name.
  Every claim round reads the map inside the step that claims (no round trip of its
  own): a paused queue is claimed from by nobody, a paused task name's calls are set
  aside (parked) when claimed and put back, in order, on resume. ``until`` ends a
  pause by itself: the claim compares it with the time, and the first worker to see
  it lapsed tidies the record (and puts a task name's parked calls back).
* A cancel of a call that waits (ready, scheduled, parked) deletes it. One that is
  running gets a record in ``cancels``, which the consumer running it reads within
  about half a second and stops it (see ``engine.cancellation``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from .core import QueueCore, admin_actor
from .exceptions import EngineError
from .keys import CANCELS, PAUSES, QUEUE_PAUSED, CancelRecord, PauseRecord
from .storage.base import pause_in_force, pause_until

log = logging.getLogger("huey.steering")


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause as tools show it: ``task`` None for the whole queue."""

    task: str | None
    who: str
    at: float | None
    until: float | None  # None: until resumed
    in_force: bool
    parked: int = 0  # calls of a paused task name set aside so far


def record_action(
    huey: QueueCore, action: str, target: str, who: str, now: float, **extra: Any
) -> None:
    """The audit event ``admin.<action>`` (:meth:`QueueCore.record_admin_action`, the
    one path every admin tool's events take). The action is done by then: a store
    that refuses the event is logged, not raised."""
    try:
        huey.record_admin_action(action, target, actor=who, now=now, **extra)
    except EngineError as exc:
        log.warning("the audit event admin.%s was not written: %s", action, exc)


def pause(
    huey: QueueCore,
    task: str | None = None,
    seconds: float | None = None,
    who: str | None = None,
    now: float | None = None,
) -> PauseRecord:
    """Pause the queue (``task`` None) or one task name, until resumed or for
    ``seconds``; a pause in force is replaced. One store write (and its event)."""
    now = time.time() if now is None else now
    who = who or admin_actor()
    record: PauseRecord = {
        "who": who,
        "at": now,
        "until": None if seconds is None else now + seconds,
    }
    field = QUEUE_PAUSED if task is None else task
    huey.storage.map_set(PAUSES, field, json.dumps(record, separators=(",", ":")).encode())
    until = "" if seconds is None else f"for {seconds:g}s"
    record_action(huey, "pause", task or "queue", who, now, task=task or "", detail=until)
    return record


def resume(
    huey: QueueCore, task: str | None = None, who: str | None = None, now: float | None = None
) -> tuple[bool, int]:
    """Resume the queue or a task name: (whether it was paused, calls put back)."""
    now = time.time() if now is None else now
    storage = huey.storage
    field = QUEUE_PAUSED if task is None else task
    was = storage.map_get(PAUSES, field) is not None
    if task is None:
        storage.map_delete(PAUSES, QUEUE_PAUSED)
        moved = 0
    else:
        moved = storage.unpark(task, PAUSES) or 0
        was = was or moved > 0
    if was:
        record_action(
            huey, "resume", task or "queue", who or admin_actor(), now, task=task or "", count=moved
        )
    return was, moved


def pauses(huey: QueueCore, now: float | None = None) -> list[Pause]:
    """Every pause recorded, the queue's first, then task names A-Z (lapsed ones too,
    until a worker tidies them: ``in_force`` tells)."""
    now = time.time() if now is None else now
    storage = huey.storage
    out = []
    for field, data in sorted(storage.map_items(PAUSES).items(), key=lambda kv: kv[0] != "*"):
        try:
            info = json.loads(data)
        except (ValueError, RecursionError):
            info = None
        if not isinstance(info, dict):
            info = {}
        until = pause_until(data)
        task = None if field == QUEUE_PAUSED else field
        out.append(
            Pause(
                task,
                str(info.get("who", "?")),
                info["at"] if isinstance(info.get("at"), (int, float)) else None,
                None if until is None or until == float("inf") else until,
                pause_in_force(data, now),
                storage.parked(field) if task is not None else 0,
            )
        )
    return out


# Results of cancel().
DELETED = "deleted"  # it was waiting (ready, scheduled, parked): deleted
REQUESTED = "requested"  # it is running: its worker stops it
GONE = "gone"  # not queued nor running (finished, or never existed)
DEAD = "dead"  # a dead letter: it already ended


def cancel(
    huey: QueueCore, task_id: str, who: str | None = None, now: float | None = None
) -> tuple[str, str]:
    """Cancel one call by id: (what happened (DELETED, REQUESTED, GONE, DEAD), the
    state it was in). A waiting call is deleted; a running one is asked to stop."""
    now = time.time() if now is None else now
    who = who or admin_actor()
    storage = huey.storage
    found = storage.locate(task_id)
    if found is None:
        return GONE, ""
    if found.state == "dead":
        return DEAD, "dead"
    name = _name_of(huey, found.data, task_id)

    def audit(detail: str) -> None:
        record_action(
            huey, "cancel", task_id, who, now, task_id=task_id, task=name, count=1, detail=detail
        )

    if found.state != "running":
        if storage.remove(task_id):
            audit(f"deleted ({found.state})")
            return DELETED, found.state
        found = storage.locate(task_id)  # claimed meanwhile?
        if found is None or found.state != "running":
            return GONE, ""
    record: CancelRecord = {"who": who, "at": now}
    storage.map_set(CANCELS, task_id, json.dumps(record, separators=(",", ":")).encode())
    audit("asked its worker to stop it")
    return REQUESTED, "running"


def cancel_requested(huey: QueueCore, task_id: str) -> bool:
    """Whether a cancel of ``task_id`` is waiting for its worker to act."""
    return huey.storage.map_get(CANCELS, task_id) is not None


def _name_of(huey: QueueCore, data: bytes, task_id: str) -> str:
    try:
        return huey.envelope.decode(data, task_id).registered_name
    except Exception:  # a body we cannot read: the event goes without the name
        return ""
