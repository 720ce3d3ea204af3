"""What a consumer's beat writes to the event stream is bounded whatever the traffic:
at most EVENTS_PER_BEAT events, the routine ones (executing, complete) dropped first,
oldest first; the per-minute counters still count every call."""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from typing import Any, cast

import pytest

from engine.core import QueueCore
from engine.storage.base import StatRow
from engine.task import Task
from engine.telemetry import EVENTS_PER_BEAT, Telemetry


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[list[bytes], list[StatRow]]] = []
        self.fail = False

    def record(self, events: Sequence[bytes], stats: Sequence[StatRow], *_: Any) -> None:
        if self.fail:
            raise ConnectionError("store down")
        self.calls.append((list(events), list(stats)))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def _task(i: int) -> Task:
    return cast(Task, types.SimpleNamespace(id=f"t{i}", registered_name="tasks.add", runtime=0.5))


def _telemetry() -> tuple[Telemetry, Recorder]:
    store = Recorder()
    huey = cast(QueueCore, types.SimpleNamespace(storage=store))
    return Telemetry(huey, "c1", Clock()), store


def _names(events: list[bytes]) -> list[str]:
    return [f"{json.loads(e)['event']}:{json.loads(e)['id']}" for e in events]


def test_a_quiet_beat_writes_every_event_in_order() -> None:
    tel, store = _telemetry()
    for i in range(3):
        tel.on_signal("executing", _task(i))
        tel.on_signal("complete", _task(i))
    tel.note("dead", _task(9), "boom")
    tel.flush()
    ((events, stats),) = store.calls
    assert _names(events) == [
        "executing:t0", "complete:t0", "executing:t1", "complete:t1",
        "executing:t2", "complete:t2", "dead:t9",
    ]  # fmt: skip
    assert [(r.task, r.count, r.failures) for r in stats] == [("tasks.add", 3, 0)]


def test_a_busy_beat_keeps_the_newest_and_every_notable_event() -> None:
    tel, store = _telemetry()
    n = 3 * EVENTS_PER_BEAT
    routine = []
    for i in range(n):
        tel.on_signal("executing", _task(i))
        routine.append(f"executing:t{i}")
        if i % 1000 == 500:
            tel.on_signal("error", _task(i), ValueError("boom"))
        else:
            tel.on_signal("complete", _task(i))
            routine.append(f"complete:t{i}")
    tel.flush()
    ((events, stats),) = store.calls
    names = _names(events)
    assert len(names) == EVENTS_PER_BEAT
    errors = [x for x in names if x.startswith("error")]
    assert errors == ["error:t500", "error:t1500", "error:t2500"]
    # The newest routine events fill the rest, all in the order they came.
    assert [x for x in names if not x.startswith("error")] == routine[-(EVENTS_PER_BEAT - 3) :]
    stamps = [json.loads(e)["ts"] for e in events]
    assert stamps == sorted(stamps)  # one stream, oldest first
    # Every call is counted, whatever the stream got.
    assert sum(r.count for r in stats) == n and sum(r.failures for r in stats) == 3
    tel.flush()
    assert store.calls[1] == ([], [])  # nothing left over


def test_a_failed_write_keeps_the_beat_for_the_next_one() -> None:
    tel, store = _telemetry()
    tel.on_signal("executing", _task(1))
    tel.on_signal("complete", _task(1))
    store.fail = True
    with pytest.raises(ConnectionError):
        tel.flush()
    store.fail = False
    tel.on_signal("executing", _task(2))
    tel.flush()
    ((events, stats),) = store.calls
    assert _names(events) == ["executing:t1", "complete:t1", "executing:t2"]
    assert [r.count for r in stats] == [1]
