"""Failures: errors stored, retries with delay and backoff, giving up into the dead-letter set.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from support.steps import (
    UTC,
    drain,
    names,
    record_signals,
    scheduled_etas,
    step,
)

from engine import (
    SIGNAL_ERROR,
    SIGNAL_RETRYING,
    RetryTask,
    TaskException,
)
from engine.api import Huey
from engine.executor import REASON_FAILED
from engine.scheduler import Scheduler
from engine.task import Task

# --- failures -------------------------------------------------------------------------


def test_failure_raises_task_exception_with_metadata(huey: Huey) -> None:
    @huey.task()
    def boom(x: int) -> None:
        raise ValueError(f"bad {x}")

    res = boom(7)
    drain(huey)
    with pytest.raises(TaskException) as info:
        res()
    exc = info.value
    assert exc.metadata["error"] == "ValueError('bad 7')"
    assert exc.error == "ValueError('bad 7')"
    assert exc.metadata["type"] == "ValueError"
    assert "Traceback" in exc.traceback and "bad 7" in exc.traceback
    assert exc.retries == 0
    assert exc.task_id == res.id
    assert str(exc) == "ValueError('bad 7')"
    # Cached: raises again without the store.
    with pytest.raises(TaskException):
        res()

    dead = huey.storage.dead_items()
    assert [d.id for d in dead] == [res.id]
    assert dead[0].reason == REASON_FAILED
    assert "ValueError: bad 7" in dead[0].error
    assert huey.storage.counts().dead == 1


def test_failure_does_not_stop_the_worker(huey: Huey) -> None:
    @huey.task()
    def boom() -> None:
        raise RuntimeError("x")

    @huey.task()
    def one() -> int:
        return 1

    bad, good = boom(), one()
    assert drain(huey) == 2
    with pytest.raises(TaskException):
        bad()
    assert good() == 1


def test_retries_with_delay_are_scheduled_and_promoted(huey: Huey) -> None:
    attempts: list[int] = []

    @huey.task(retries=2, retry_delay=10)
    def flaky(task: Task | None = None) -> None:
        attempts.append(1)
        raise ValueError("nope")

    sent = record_signals(huey, SIGNAL_ERROR, SIGNAL_RETRYING)
    res = flaky()
    t0 = time.time()
    assert step(huey, t0)
    assert len(attempts) == 1
    assert res() is None  # no error result while retrying
    assert huey.storage.counts().scheduled == 1
    assert scheduled_etas(huey) == [pytest.approx(t0 + 10)]
    assert names(sent) == [SIGNAL_ERROR, SIGNAL_RETRYING]
    assert sent[1][1].retries == 1 and sent[1][1].attempt == 2

    sched = Scheduler(huey)
    sched.step(t0 + 9.5)
    assert not step(huey, t0 + 9.5)  # not due yet
    sched.step(t0 + 10)
    assert huey.pending_count() == 1
    assert step(huey, t0 + 10)
    assert len(attempts) == 2
    assert scheduled_etas(huey) == [pytest.approx(t0 + 20)]

    sched.step(t0 + 20)
    assert step(huey, t0 + 20)
    assert len(attempts) == 3
    assert huey.storage.counts().scheduled == 0
    with pytest.raises(TaskException) as info:
        res()
    assert info.value.retries == 0
    assert [d.id for d in huey.storage.dead_items()] == [res.id]


def test_retry_backoff_multiplies_the_delay(mhuey: Huey) -> None:
    @mhuey.task(retries=3, retry_delay=10, retry_backoff=2)
    def flaky() -> None:
        raise ValueError("nope")

    flaky()
    now = time.time()
    sched = Scheduler(mhuey)
    gaps = []
    for _ in range(3):
        assert step(mhuey, now)
        (eta,) = scheduled_etas(mhuey)
        gaps.append(eta - now)
        now = eta
        sched.step(now)
    assert gaps == [pytest.approx(10), pytest.approx(20), pytest.approx(40)]
    assert step(mhuey, now)
    assert mhuey.storage.counts().scheduled == 0
    assert mhuey.storage.counts().dead == 1


def test_retries_without_delay_go_straight_back_to_ready(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task(retries=1)
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first time")
        return "ok"

    res = flaky()
    assert drain(huey) == 2
    assert res() == "ok"
    assert huey.storage.counts().dead == 0


def test_schedule_can_override_retries(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def flaky() -> None:
        calls.append(1)
        raise ValueError("x")

    res = flaky.schedule(delay=0, retries=2)
    assert drain(huey) == 3
    assert len(calls) == 3
    with pytest.raises(TaskException):
        res()


def test_retry_task_raised_in_a_task(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def again() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RetryTask("once more")
        return "done"

    sent = record_signals(huey, SIGNAL_ERROR, SIGNAL_RETRYING)
    res = again()
    assert drain(huey) == 2
    assert res() == "done"
    assert names(sent) == [SIGNAL_RETRYING]  # not an error
    assert huey.storage.counts().dead == 0


def test_retry_task_with_delay_and_eta(huey: Huey) -> None:
    calls: list[int] = []
    eta = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)

    @huey.task()
    def again() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RetryTask(delay=30)
        if len(calls) == 2:
            raise RetryTask(eta=eta)
        return "done"

    res = again()
    now = time.time()
    assert step(huey, now)
    assert scheduled_etas(huey) == [pytest.approx(now + 30)]
    Scheduler(huey).step(now + 30)
    assert step(huey, now + 30)
    assert scheduled_etas(huey) == [pytest.approx(eta.timestamp())]
    Scheduler(huey).step(eta.timestamp())
    assert step(huey, eta.timestamp())
    assert res() == "done"
