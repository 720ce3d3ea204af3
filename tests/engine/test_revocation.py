"""Expiry of stale calls, and revocation by id and by task name (once, until, restore).

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

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
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_REVOKED,
    MemoryHuey,
)
from engine.api import Huey
from engine.keys import REVOKED
from engine.scheduler import Scheduler

# --- expiry ---------------------------------------------------------------------------


@pytest.mark.parametrize("expires", [10, 10.0, dt.timedelta(seconds=10)])
def test_expired_task_is_skipped(huey: Huey, expires: Any) -> None:
    calls: list[int] = []

    @huey.task(expires=expires)
    def work() -> int:
        calls.append(1)
        return 1

    sent = record_signals(huey, SIGNAL_EXPIRED, SIGNAL_EXECUTING)
    before = time.time()
    fresh, stale = work(), work()
    after = time.time()
    (task,) = [t for t in huey.pending() if t.id == fresh.id]
    assert before + 10 <= task.expires <= after + 10

    assert step(huey, after + 5)  # fresh: runs
    assert step(huey, after + 11)  # stale: expired
    assert calls == [1]
    assert fresh() == 1 and stale() is None
    assert names(sent) == [SIGNAL_EXECUTING, SIGNAL_EXPIRED]
    assert sent[1][1].id == stale.id
    assert huey.storage.counts().dead == 0


def test_expires_as_datetime(huey: Huey) -> None:
    at = dt.datetime.now(UTC) + dt.timedelta(seconds=100)

    @huey.task(expires=at)
    def aware() -> int:
        return 1

    @huey.task(expires=at.replace(tzinfo=None))  # naive: UTC in UTC mode
    def naive() -> int:
        return 2

    a, n = aware(), naive()
    for t in huey.pending():
        assert t.expires == pytest.approx(at.timestamp())
    expired = record_signals(huey, SIGNAL_EXPIRED)
    assert drain(huey, at.timestamp() + 1) == 2
    assert a() is None and n() is None
    assert len(expired) == 2


def test_expires_per_call_with_schedule(huey: Huey) -> None:
    @huey.task()
    def work() -> int:
        return 1

    ok = work.schedule(delay=0, expires=60)
    late = work.schedule(delay=0, expires=dt.timedelta(seconds=5))
    now = time.time()
    assert drain(huey, now + 30) == 2
    assert ok() == 1
    assert late() is None


def test_expired_naive_datetime_uses_utc_not_local(local_tz: None) -> None:
    h = MemoryHuey("expiry-utc")
    at = dt.datetime.now(UTC).replace(tzinfo=None) + dt.timedelta(hours=1)

    @h.task(expires=at)
    def work() -> int:
        return 1

    work()
    (task,) = h.pending()
    assert task.expires == pytest.approx(at.replace(tzinfo=UTC).timestamp())


# --- revocation -----------------------------------------------------------------------


def test_revoke_one_result(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    sent = record_signals(huey, SIGNAL_REVOKED)
    r1, r2 = work(1), work(2)
    r1.revoke()
    assert r1.is_revoked() and not r2.is_revoked()
    assert huey.is_revoked(r1.id)
    assert drain(huey) == 2
    assert r1() is None and r2() == 2
    assert [s[1].id for s in sent] == [r1.id]
    assert not r1.is_revoked()  # spent


def test_restore_a_revoked_result(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    res = work(1)
    res.revoke()
    assert res.restore()
    assert not res.is_revoked()
    assert not res.restore()
    drain(huey)
    assert res() == 1


def test_revoke_every_instance_and_restore(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    work.revoke()
    assert work.is_revoked()
    assert huey.is_revoked(work)
    assert huey.is_revoked(work.name)
    rs = [work(i) for i in range(3)]
    assert rs[0].is_revoked()
    assert drain(huey) == 3
    assert [r() for r in rs] == [None, None, None]
    assert work.is_revoked()  # still in force

    assert work.restore()
    assert not work.is_revoked()
    res = work(9)
    drain(huey)
    assert res() == 9


def test_revoke_once_skips_exactly_one(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    work.revoke(revoke_once=True)
    rs = [work(i) for i in range(3)]
    assert drain(huey) == 3
    assert [r() for r in rs] == [None, 1, 2]
    assert not work.is_revoked()


def test_revoke_until_epoch(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    now = time.time()
    work.revoke(revoke_until=now + 100)
    assert work.is_revoked()
    assert work.is_revoked(timestamp=now + 50)
    assert not work.is_revoked(timestamp=now + 100)
    r1, r2 = work(1), work(2)
    assert step(huey, now + 50)  # still revoked
    assert step(huey, now + 101)  # revocation lapsed
    assert r1() is None and r2() == 2


def test_revoke_until_naive_datetime_is_utc_in_utc_mode(local_tz: None) -> None:
    h = MemoryHuey("revoke-utc")

    @h.task()
    def work(x: int) -> int:
        return x

    until = dt.datetime.now(UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(hours=1)
    expected = until.replace(tzinfo=UTC).timestamp()
    work.revoke(revoke_until=until)
    rec = json.loads(h.storage.map_get("revoked", "task:" + work.name) or b"{}")
    assert rec["until"] == expected
    assert work.is_revoked()
    assert work.is_revoked(timestamp=expected - 1)
    assert not work.is_revoked(timestamp=expected)
    r1, r2 = work(1), work(2)
    assert step(h, expected - 1)
    assert step(h, expected + 1)
    assert r1() is None and r2() == 2


def test_revoke_until_in_the_past_is_not_in_force(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    work.revoke(revoke_until=time.time() - 1)
    assert not work.is_revoked()
    res = work(1)
    drain(huey)
    assert res() == 1


def test_revoke_by_id_until_lapses(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    res = work(1)
    now = time.time()
    huey.revoke_by_id(res.id, revoke_until=now + 100)
    assert huey.is_revoked(res.id, timestamp=now + 50)
    assert not huey.is_revoked(res.id, timestamp=now + 200)
    assert step(huey, now + 200)
    assert res() == 1


def test_revoke_all_by_name_string(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    name = f"{__name__}.test_revoke_all_by_name_string.<locals>.work"
    assert work.name == name
    huey.revoke_all(name)
    assert huey.is_revoked(name)
    assert work.is_revoked()
    res = work(1)
    drain(huey)
    assert res() is None
    assert huey.restore_all(name)
    res = work(2)
    drain(huey)
    assert res() == 2


def test_revoke_before_it_runs_from_the_huey(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    res = work(1)
    huey.revoke(res)
    assert huey.is_revoked(res)
    drain(huey)
    assert res() is None


def test_reschedule_revokes_and_enqueues_a_copy(huey: Huey) -> None:
    @huey.task()
    def work(x: int) -> int:
        return x

    res = work(3)
    now = time.time()
    new = res.reschedule(delay=60)
    assert new.id != res.id
    (eta,) = scheduled_etas(huey)
    assert now + 59 < eta < time.time() + 61
    drain(huey)  # the original: revoked
    assert res() is None
    Scheduler(huey).step(eta)
    assert step(huey, eta)
    assert new() == 3


def test_reading_a_lapsed_revocation_writes_nothing(huey: Huey) -> None:
    """Issue 12, item 2: readers ignore a lapsed revocation (workers clean it up), so a
    read-only user can read and nobody's state changes."""

    @huey.task()
    def work(x: int) -> int:
        return x

    r = work(1)
    huey.revoke_by_id(r.id, revoke_until=time.time() + 0.05)
    time.sleep(0.1)
    before = huey.storage.map_items(REVOKED)
    assert huey.revocation("id:" + r.id) is None
    assert not huey.is_revoked(r)
    assert huey.storage.map_items(REVOKED) == before != {}
