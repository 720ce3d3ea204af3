"""Scheduling: delay/eta, time zones and the scheduler promoting due tasks.

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
    SIGNAL_ENQUEUED,
    SIGNAL_SCHEDULED,
    ConfigurationError,
    MemoryHuey,
)
from engine.api import Huey
from engine.scheduler import Scheduler

# --- scheduling -----------------------------------------------------------------------


def test_enqueue_many_respects_eta(huey: Huey) -> None:
    @huey.task()
    def one(x: int) -> int:
        return x

    group = huey.enqueue_many([one.s(1), one.s(2, delay=60)])
    assert huey.pending_count() == 1
    assert huey.scheduled_count() == 1
    drain(huey)
    assert [r() for r in group] == [1, None]


def test_schedule_with_delay(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    sent = record_signals(huey, SIGNAL_SCHEDULED, SIGNAL_ENQUEUED)
    before = time.time()
    r1 = add.schedule((1, 2), delay=60)
    r2 = add.schedule(args=(3,), kwargs={"b": 4}, delay=dt.timedelta(minutes=2))
    after = time.time()
    assert names(sent) == [SIGNAL_ENQUEUED, SIGNAL_ENQUEUED]  # as huey (SCHEDULED: retries)
    etas = scheduled_etas(huey)
    assert before + 60 <= etas[0] <= after + 60
    assert before + 120 <= etas[1] <= after + 120
    assert huey.pending_count() == 0 and huey.scheduled_count() == 2
    assert [t.id for t in huey.scheduled()] == [r1.id, r2.id]

    sched = Scheduler(huey)
    sched.step(etas[0] - 0.001)
    assert huey.pending_count() == 0
    sched.step(etas[0])
    assert drain(huey, etas[0]) == 1
    assert r1() == 3 and r2() is None
    sched.step(etas[1])
    assert drain(huey, etas[1]) == 1
    assert r2() == 7


def test_schedule_with_aware_eta(huey: Huey) -> None:
    @huey.task()
    def one() -> int:
        return 1

    eta = dt.datetime(2031, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    res = one.schedule(eta=eta)
    expected = dt.datetime(2031, 1, 1, 10, 0, tzinfo=UTC).timestamp()
    assert scheduled_etas(huey) == [expected]
    Scheduler(huey).step(expected)
    assert step(huey, expected)
    assert res() == 1


def test_schedule_with_epoch_eta(huey: Huey) -> None:
    @huey.task()
    def one() -> int:
        return 1

    eta = time.time() + 500
    one.schedule(eta=eta)
    assert scheduled_etas(huey) == [pytest.approx(eta)]


def test_schedule_eta_in_the_past_is_ready(huey: Huey) -> None:
    @huey.task()
    def one() -> int:
        return 1

    res = one.schedule(eta=dt.datetime.now(UTC) - dt.timedelta(minutes=1))
    assert huey.pending_count() == 1 and huey.scheduled_count() == 0
    drain(huey)
    assert res() == 1


def test_schedule_naive_eta_convert_utc(local_tz: None) -> None:
    h = MemoryHuey("naive-eta")  # UTC mode

    @h.task()
    def one() -> int:
        return 1

    naive = dt.datetime(2031, 1, 1, 12, 0)
    # convert_utc=True (default): the naive time is local time (UTC+5:45).
    one.schedule(eta=naive)
    # convert_utc=False: read in the queue's mode, UTC here.
    one.schedule(eta=naive, convert_utc=False)
    local = dt.datetime(2031, 1, 1, 6, 15, tzinfo=UTC).timestamp()
    utc = dt.datetime(2031, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    assert sorted(scheduled_etas(h)) == [local, utc]


def test_schedule_naive_eta_in_localtime_mode(local_tz: None) -> None:
    h = MemoryHuey("naive-eta-local", utc=False)

    @h.task()
    def one() -> int:
        return 1

    naive = dt.datetime(2031, 1, 1, 12, 0)
    one.schedule(eta=naive)
    one.schedule(eta=naive, convert_utc=False)
    local = dt.datetime(2031, 1, 1, 6, 15, tzinfo=UTC).timestamp()
    assert scheduled_etas(h) == [local, local]


def test_schedule_needs_exactly_one_of_eta_and_delay(mhuey: Huey) -> None:
    @mhuey.task()
    def one() -> int:
        return 1

    with pytest.raises(ConfigurationError):
        one.schedule()
    with pytest.raises(ConfigurationError):
        one.schedule(eta=time.time() + 10, delay=10)
    with pytest.raises(ConfigurationError):
        one.schedule(eta="tomorrow")  # type: ignore[arg-type]
    assert mhuey.pending_count() == 0 and mhuey.scheduled_count() == 0
