"""Pause/resume and cancel (engine/steering.py, engine/consumer.py, engine/cancellation.py)
on every store: a consumer's round with an injected clock, no threads, except where a
call must be running while it is cancelled."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from engine import SIGNAL_CANCELED, MemoryHuey, TaskCancelled, TaskException
from engine.api import Huey
from engine.consumer import Consumer
from engine.keys import PAUSES
from engine.steering import DEAD, DELETED, GONE, REQUESTED, cancel, pause, pauses, resume

NOW = 1_900_000_000.0


def consumer(huey: Huey) -> Consumer:
    """A process-style consumer (runs what it claims on the calling thread)."""
    return Consumer(huey, inline=True, worker_type="process", periodic=False, prefetch=8)


def test_a_paused_queue_claims_nothing_until_resumed(huey: Huey) -> None:
    ran: list[int] = []

    @huey.task()
    def work(n: int) -> None:
        ran.append(n)

    for n in range(3):
        work(n)
    record = pause(huey, who="ops@box", now=NOW)
    assert record == {"who": "ops@box", "at": NOW, "until": None}
    c = consumer(huey)
    c.step(NOW)
    assert ran == [] and c.paused is not None and c.paused["who"] == "ops@box"
    assert huey.pending_count() == 3
    assert resume(huey, who="ops@box", now=NOW) == (True, 0)
    c.step(NOW + 1)
    assert ran == [0, 1, 2] and c.paused is None
    assert resume(huey, now=NOW) == (False, 0)  # not paused: nothing to do
    events = [json.loads(d) for _, d in huey.storage.read_events()]
    assert [e["event"] for e in events if e["event"].startswith("admin.")] == [
        "admin.pause",
        "admin.resume",
    ]
    assert events[0]["actor"] == "ops@box"


def test_a_pause_for_a_while_lapses_by_itself(huey: Huey) -> None:
    @huey.task()
    def work() -> None:
        pass

    work()
    pause(huey, seconds=2, now=NOW)
    c = consumer(huey)
    c.step(NOW + 1.5)
    assert huey.pending_count() == 1
    (p,) = pauses(huey, NOW + 1.5)
    assert p.task is None and p.in_force and p.until == NOW + 2
    c.step(NOW + 2.5)
    assert huey.pending_count() == 0
    assert pauses(huey, NOW + 3) == []  # the worker tidied the lapsed record


def test_scheduled_tasks_are_promoted_while_paused(huey: Huey) -> None:
    @huey.task()
    def work() -> None:
        pass

    work.schedule(eta=NOW + 5)
    pause(huey, now=NOW)
    consumer(huey).step(NOW + 10)
    assert huey.pending_count() == 1 and huey.scheduled_count() == 0


def test_a_paused_task_name_is_parked_and_put_back_in_order(huey: Huey) -> None:
    ran: list[tuple[str, int]] = []

    @huey.task()
    def slow(n: int) -> None:
        ran.append(("slow", n))

    @huey.task()
    def fast(n: int) -> None:
        ran.append(("fast", n))

    name = slow.s(0).registered_name
    pause(huey, name, now=NOW)
    for n in range(3):
        slow(n)
        fast(n)
    c = consumer(huey)
    for _ in range(3):
        c.step(NOW)
    assert ran == [("fast", 0), ("fast", 1), ("fast", 2)]
    (p,) = pauses(huey, NOW)
    assert p.task == name and p.parked == 3
    assert huey.pending_count() == 0
    assert resume(huey, name, now=NOW) == (True, 3)
    c.step(NOW)
    assert ran[3:] == [("slow", 0), ("slow", 1), ("slow", 2)]


def test_a_lapsed_task_pause_puts_its_calls_back(huey: Huey) -> None:
    ran: list[int] = []

    @huey.task()
    def slow(n: int) -> None:
        ran.append(n)

    name = slow.s(0).registered_name
    pause(huey, name, seconds=2, now=NOW)
    slow(1)
    c = consumer(huey)
    c.step(NOW)
    assert ran == [] and huey.storage.parked(name) == 1
    c.step(NOW + 3)  # sees the lapse: puts the call back
    c.step(NOW + 3)
    assert ran == [1]
    assert huey.storage.map_items(PAUSES) == {}


def test_cancel_of_a_waiting_call_deletes_it(huey: Huey) -> None:
    @huey.task()
    def work() -> None:
        pass

    res = work()
    later = work.schedule(eta=NOW + 100)
    assert cancel(huey, res.id, who="ops@box", now=NOW) == (DELETED, "ready")
    assert cancel(huey, later.id, now=NOW) == (DELETED, "scheduled")
    assert cancel(huey, res.id, now=NOW) == (GONE, "")
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0


def test_cancel_of_a_dead_letter_says_it_ended(huey: Huey) -> None:
    @huey.task()
    def boom() -> None:
        raise ValueError("x")

    res = boom()
    consumer(huey).step(NOW)
    assert cancel(huey, res.id, now=NOW) == (DEAD, "dead")


def _run_until_cancelled(huey: Huey, fn_result: Any, timeout: float = 10.0) -> Consumer:
    """Start a consumer on a thread, wait for the call to run, cancel it."""
    c = Consumer(huey, workers=1, periodic=False, heartbeat_interval=0.2, lease=5)
    runner = threading.Thread(target=c.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + timeout
    while fn_result.id not in huey.in_flight:
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.01)
    assert cancel(huey, fn_result.id, who="ops@box")[0] == REQUESTED
    return c


@pytest.mark.slow
def test_a_cooperative_task_stops_and_ends_cancelled(mhuey: Huey) -> None:
    h = mhuey
    seen: list[str] = []
    h.signals.connect(lambda s, t, *a: seen.append(s), SIGNAL_CANCELED)

    @h.task(retries=3)
    def loop() -> str:
        for _ in range(1000):
            if h.is_cancelled():
                return "stopped early"
            time.sleep(0.01)
        return "ran out"

    @h.task(context=True)
    def loop_ctx(task: Any = None) -> None:
        while not task.cancelled:
            time.sleep(0.01)

    @h.task()
    def waits_on_lock() -> None:
        while True:
            with h.lock_task("never-taken"):
                time.sleep(0.01)

    for fn in (loop, loop_ctx, waits_on_lock):
        res = fn()
        c = _run_until_cancelled(h, res)
        started = time.monotonic()
        with pytest.raises(TaskException) as info:
            res.get(blocking=True, timeout=5)
        assert time.monotonic() - started < 1.5
        assert "cancelled by ops@box" in str(info.value)
        assert h.pending_count() == 0 and h.scheduled_count() == 0  # not retried
        c.stop()
    assert seen == [SIGNAL_CANCELED] * 3


def test_is_cancelled_outside_a_task_is_false() -> None:
    h = MemoryHuey("x")
    assert h.is_cancelled() is False
    assert issubclass(TaskCancelled, Exception)
