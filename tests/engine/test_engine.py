"""The ``Huey`` facade and the worker, driven one step at a time with explicit times.

No sleeps, no threads: a task is enqueued through the public API, then run by
``Worker(huey, "c1", clock=lambda: now).step(now)``; scheduled tasks are
promoted with ``Scheduler(huey).step(now)``. Behaviour that does not depend on
the store runs on every backend (the ``huey`` fixture puts a fresh store of each
backend from ``make_storage`` under a ``MemoryHuey``); the rest uses memory.

Enqueueing stamps tasks with the real clock (``enqueued_at``, expiry, the eta
of ``delay=``), so the explicit ``now`` values below are offsets from
``time.time()`` wherever that matters.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine import (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ENQUEUED,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_LOCKED,
    SIGNAL_RETRYING,
    SIGNAL_REVOKED,
    SIGNAL_SCHEDULED,
    CancelExecution,
    ConfigurationError,
    MemoryHuey,
    Result,
    ResultGroup,
    ResultTimeout,
    RetryTask,
    TaskException,
    TaskLockedException,
)
from engine.api import Huey
from engine.envelope import Envelope
from engine.exceptions import CodecError
from engine.scheduler import Scheduler
from engine.storage.base import Message, Storage, new_task_id
from engine.storage.memory import MemoryStorage
from engine.task import Task
from engine.worker import REASON_FAILED, REASON_MALFORMED, REASON_UNKNOWN, Worker

UTC = dt.UTC
# UTC+5:45 with no DST (POSIX TZ string, no tz database needed): a local time
# that differs from UTC in both hours and minutes.
NEPAL_TZ = "NPT-5:45"
NEPAL = dt.timezone(dt.timedelta(hours=5, minutes=45))


# --- fixtures and helpers -------------------------------------------------------------


@pytest.fixture
def huey(make_storage: Callable[..., Storage]) -> Huey:
    """A queue on a fresh store of each backend."""
    h = MemoryHuey("test-engine")
    h.storage = make_storage()
    return h


@pytest.fixture
def mhuey() -> Huey:
    """A queue on memory only (store-independent behaviour tested once)."""
    return MemoryHuey("test-engine-memory")


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process' local time zone at UTC+5:45."""
    monkeypatch.setenv("TZ", NEPAL_TZ)
    time.tzset()
    assert (
        dt.datetime(2030, 1, 1, 12, 0).timestamp()
        == dt.datetime(2030, 1, 1, 12, 0, tzinfo=NEPAL).timestamp()
    )
    yield
    monkeypatch.undo()
    time.tzset()


def worker(huey: Huey, now: float, consumer: str = "c1") -> Worker:
    return Worker(huey, consumer, clock=lambda: now)


def step(huey: Huey, now: float | None = None) -> bool:
    """Claim and run one ready task at ``now`` (default: the present)."""
    now = time.time() if now is None else now
    return worker(huey, now).step(now)


def drain(huey: Huey, now: float | None = None, limit: int = 100) -> int:
    """Run ready tasks at ``now`` until the queue is empty; return how many ran."""
    now = time.time() if now is None else now
    w = worker(huey, now)
    n = 0
    while w.step(now):
        n += 1
        assert n < limit, "queue never drained"
    return n


def record_signals(huey: Huey, *signals: str) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def receiver(signal: str, task: Task, *extra: Any) -> None:
        calls.append((signal, task, *extra))

    huey.signals.connect(receiver, *signals)
    return calls


def names(calls: list[tuple[Any, ...]]) -> list[str]:
    return [c[0] for c in calls]


def scheduled_etas(huey: Huey) -> list[float]:
    return [eta for _, eta in huey.storage.scheduled_items()]


@dataclass
class Point:
    """A custom object for the pickle codec (module level, so picklable)."""

    x: int
    y: int

    def moved(self, dx: int) -> Point:
        return Point(self.x + dx, self.y)


# --- results --------------------------------------------------------------------------


def test_enqueue_step_result(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 2)
    assert isinstance(res, Result)
    assert res() is None and not res.is_ready()
    assert huey.pending_count() == 1
    assert step(huey)
    assert huey.pending_count() == 0
    assert res.is_ready()
    assert res() == 3
    assert not step(huey)


def test_result_blocking_get_when_ready(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(2, 3)
    drain(huey)
    assert res.get(blocking=True, timeout=1) == 5


def test_blocking_get_times_out_and_can_revoke(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(2, 3)
    with pytest.raises(ResultTimeout):
        res.get(blocking=True, timeout=0)
    with pytest.raises(ResultTimeout):
        res.get(blocking=True, timeout=0, revoke_on_timeout=True)
    assert res.is_revoked()
    drain(huey)
    assert res() is None


def test_result_read_is_destructive_but_cached(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 1)
    drain(huey)
    assert res() == 2
    # Gone from the store, but the handle keeps it.
    assert huey.result(res.id) is None
    assert huey.result_count() == 0
    assert res() == 2
    assert res.is_ready()
    res.reset()
    assert not res.is_ready()
    assert res() is None


def test_result_preserve_keeps_it_in_the_store(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(4, 4)
    drain(huey)
    assert res.get(preserve=True) == 8
    res.reset()
    assert res.is_ready()
    assert res(preserve=True) == 8
    assert huey.result(res.id, preserve=True) == 8
    assert huey.result(res.id) == 8  # destructive now
    assert huey.result(res.id) is None


def test_result_values_round_trip_through_the_codec(huey: Huey) -> None:
    @huey.task()
    def echo(value: Any) -> Any:
        return value

    value = {"t": (1, 2), "when": dt.datetime(2030, 1, 2, 3, 4, tzinfo=UTC), "s": {1, 2}}
    res = echo(value)
    drain(huey)
    assert res() == value


def test_none_is_not_stored_by_default(huey: Huey) -> None:
    @huey.task()
    def nothing() -> None:
        return None

    res = nothing()
    drain(huey)
    assert not res.is_ready()
    assert huey.result_count() == 0
    assert res() is None


def test_store_none(huey: Huey) -> None:
    huey.store_none = True

    @huey.task()
    def nothing() -> None:
        return None

    res = nothing()
    drain(huey)
    assert res.is_ready()
    assert huey.result_count() == 1
    assert res() is None
    assert huey.result_count() == 0


@pytest.mark.parametrize("option", [{"results": False}, {"result_store": False}])
def test_results_disabled(option: dict[str, bool]) -> None:
    h = MemoryHuey("no-results", **option)
    assert h.results is False

    @h.task()
    def add(a: int, b: int) -> int:
        return a + b

    @h.task()
    def boom() -> None:
        raise ValueError("boom")

    r1, r2 = add(1, 2), boom()
    drain(h)
    assert h.result_count() == 0
    assert r1() is None
    assert r2() is None  # no error result either...
    assert [d.id for d in h.storage.dead_items()] == [r2.id]  # ...but the dead letter stays


def test_result_ttl_is_passed_to_the_store(mhuey: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    mhuey.result_ttl = 60

    @mhuey.task()
    def one() -> int:
        return 1

    res = one()
    drain(mhuey)
    assert res.is_ready()
    fake = types.SimpleNamespace(time=lambda: time.time() + 61)
    monkeypatch.setattr("engine.storage.memory.time", fake)
    assert not res.is_ready()


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


# --- hooks ----------------------------------------------------------------------------


def test_cancel_execution_from_pre_execute(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def work() -> int:
        calls.append(1)
        return 1

    @huey.pre_execute()
    def cancel(task: Task) -> None:
        raise CancelExecution()

    sent = record_signals(huey, SIGNAL_CANCELED, SIGNAL_EXECUTING, SIGNAL_COMPLETE)
    res = work()
    assert drain(huey) == 1
    assert calls == []
    assert names(sent) == [SIGNAL_CANCELED]
    assert res() is None
    assert huey.storage.counts() == huey.storage.counts().__class__(0, 0, 0, 0)

    assert huey.unregister_pre_execute("cancel")
    res = work()
    drain(huey)
    assert res() == 1


def test_cancel_execution_with_retry(huey: Huey) -> None:
    calls: list[int] = []
    canceled: list[str] = []

    @huey.task(retries=1)
    def work() -> int:
        calls.append(1)
        return 1

    @huey.pre_execute()
    def cancel_first(task: Task) -> None:
        if not canceled:
            canceled.append(task.id)
            raise CancelExecution()  # retry=None: retried since the task has retries

    res = work()
    assert drain(huey) == 2
    assert calls == [1]
    assert res() == 1


def test_cancel_with_retry_does_not_give_a_task_negative_retries(mhuey: Huey) -> None:
    canceled: list[str] = []

    @mhuey.task()
    def boom() -> None:
        raise ValueError("fails")

    @mhuey.pre_execute()
    def cancel_first(task: Task) -> None:
        if not canceled:
            canceled.append(task.id)
            raise CancelExecution(retry=True)

    res = boom()
    n = drain(mhuey, limit=10)
    assert n == 2  # canceled once, then run once and given up
    with pytest.raises(TaskException) as info:
        res()
    assert info.value.retries == 0


def test_post_execute_hook_args(huey: Huey) -> None:
    seen: list[tuple[Any, ...]] = []

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def boom() -> None:
        raise KeyError("k")

    @huey.post_execute()
    def after(task: Task, value: Any, exc: BaseException | None) -> None:
        seen.append((task.id, value, exc))

    @huey.post_execute("broken")
    def broken(task: Task, value: Any, exc: BaseException | None) -> None:
        raise RuntimeError("hook failed")

    r1, r2 = add(1, 2), boom()
    assert drain(huey) == 2
    assert seen[0] == (r1.id, 3, None)
    assert seen[1][0] == r2.id and seen[1][1] is None
    assert isinstance(seen[1][2], KeyError)
    assert r1() == 3  # a failing hook changes nothing
    assert huey.unregister_post_execute("broken")
    assert not huey.unregister_post_execute("broken")


def test_pre_execute_hook_sees_the_task(huey: Huey) -> None:
    seen: list[tuple[str, tuple[Any, ...]]] = []

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.pre_execute()
    def before(task: Task) -> None:
        seen.append((task.name, task.args))

    add(1, 2)
    drain(huey)
    assert seen == [(add.name, (1, 2))]


def test_failing_pre_execute_hook_does_not_stop_the_task(huey: Huey) -> None:
    @huey.task()
    def one() -> int:
        return 1

    @huey.pre_execute()
    def broken(task: Task) -> None:
        raise RuntimeError("hook bug")

    res = one()
    drain(huey)
    assert res() == 1
    assert huey.unregister_pre_execute(broken)  # by function as well as by name


def test_cancel_execution_raised_in_a_task(huey: Huey) -> None:
    calls: list[int] = []

    @huey.task()
    def cancels() -> None:
        calls.append(1)
        raise CancelExecution()

    @huey.task()
    def cancels_and_retries() -> str:
        calls.append(2)
        if calls.count(2) == 1:
            raise CancelExecution(retry=True)
        return "second time"

    sent = record_signals(huey, SIGNAL_CANCELED, SIGNAL_ERROR)
    r1, r2 = cancels(), cancels_and_retries()
    assert drain(huey) == 3
    assert calls == [1, 2, 2]
    assert r1() is None and r2() == "second time"
    assert names(sent) == [SIGNAL_CANCELED, SIGNAL_CANCELED]
    assert huey.storage.counts().dead == 0


def test_context_true_passes_the_task(huey: Huey) -> None:
    @huey.task(context=True)
    def who(x: int, task: Task | None = None) -> list[Any]:
        assert task is not None
        return [x, task.id, task.name, task.attempt]

    res = who(5)
    drain(huey)
    assert res() == [5, res.id, who.name, 1]


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


# --- pipelines ------------------------------------------------------------------------


def test_pipeline_passes_return_values(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    group = huey.enqueue(add.s(1, 2).then(add, 3).then(add, 4))
    assert isinstance(group, ResultGroup) and len(group) == 3
    assert drain(huey) == 3
    assert group.get() == [3, 6, 10]
    assert group[2] == 10  # indexing waits for and returns the value, as in huey
    assert [type(r) for r in group] == [Result, Result, Result]


def test_pipeline_tuple_dict_other_none(huey: Huey) -> None:
    @huey.task()
    def fib(a: int, b: int = 1) -> tuple[int, int]:
        return (a + b, a)  # tuple -> *args

    @huey.task()
    def state(v1: int | None = None, v2: int | None = None) -> dict[str, int]:
        return {"v1": (v1 or 0) + 1, "v2": (v2 or 0) + 2}  # dict -> **kwargs

    @huey.task()
    def listed(*args: Any, **kwargs: Any) -> list[Any]:
        return [list(args), kwargs]  # a list -> one more argument

    @huey.task()
    def nothing(*args: Any) -> None:
        return None  # None -> nothing

    @huey.task()
    def show(*args: Any, **kwargs: Any) -> list[Any]:
        return [list(args), kwargs]

    fibs = huey.enqueue(fib.s(1).then(fib).then(fib).then(fib))
    states = huey.enqueue(state.s().then(state).then(state))
    mixed = huey.enqueue(listed.s(1, k=2).then(show, 0))
    none = huey.enqueue(nothing.s(1).then(show, "only"))
    drain(huey)
    assert fibs.get() == [(2, 1), (3, 2), (5, 3), (8, 5)]
    assert states.get() == [{"v1": 1, "v2": 2}, {"v1": 2, "v2": 4}, {"v1": 3, "v2": 6}]
    assert mixed.get() == [[[1], {"k": 2}], [[0, [[1], {"k": 2}]], {}]]
    assert list(none)[1].get() == [["only"], {}]


def test_pipeline_failing_middle_stage(huey: Huey) -> None:
    handled: list[dict[str, Any]] = []

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def fail(x: int) -> int:
        raise ValueError(f"cannot {x}")

    @huey.task()
    def on_error(info: dict[str, Any]) -> str:
        handled.append(info)
        return "handled"

    ran: list[int] = []

    @huey.task()
    def last(x: int) -> int:
        ran.append(x)
        return x

    pipe = add.s(1, 2).then(fail).error(on_error).then(last)
    group = huey.enqueue(pipe)
    assert len(group) == 3
    first, middle, later = group
    assert drain(huey) == 3  # add, fail, on_error
    assert first() == 3
    with pytest.raises(TaskException) as mid_exc:
        middle.get(blocking=True, timeout=1)
    assert mid_exc.value.task_id == middle.id
    with pytest.raises(TaskException) as later_exc:
        later.get(blocking=True, timeout=1)  # fails at once, does not wait
    assert "cannot 3" in later_exc.value.error
    with pytest.raises(TaskException):
        group[2]  # noqa: B018 - indexing blocks for the value: must not hang either
    assert ran == []

    (info,) = handled
    assert isinstance(info, dict)
    assert info["error"] == "ValueError('cannot 3')"
    assert info["type"] == "ValueError"
    assert info["task_id"] == middle.id
    assert "Traceback" in info["traceback"]
    assert [d.id for d in huey.storage.dead_items()] == [middle.id]


def test_pipeline_dict_does_not_override_explicit_kwargs(huey: Huey) -> None:
    @huey.task()
    def make() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @huey.task()
    def show(a: int = 0, b: int = 0) -> list[int]:
        return [a, b]

    group = huey.enqueue(make.s().then(show, b=20))
    drain(huey)
    assert group.get() == [{"a": 1, "b": 2}, [1, 20]]


def test_s_takes_call_options(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    before = time.time()
    later = huey.enqueue(add.s(1, 2, delay=60))
    (eta,) = scheduled_etas(huey)
    assert before + 60 <= eta <= time.time() + 60
    now_task = add.s(3, 4, priority=7, retries=2, id="fixed-id")
    assert (now_task.priority, now_task.retries, now_task.id, now_task.args) == (
        7,
        2,
        "fixed-id",
        (3, 4),
    )
    assert now_task.kwargs == {}
    res = huey.enqueue(now_task)
    assert res.id == "fixed-id"
    drain(huey)
    assert res() == 7 and later() is None


def test_pipeline_stage_expiry_counts_from_its_own_enqueue(huey: Huey) -> None:
    @huey.task()
    def slow() -> None:
        return None

    @huey.task()
    def after() -> str:
        return "ran"

    sent = record_signals(huey, SIGNAL_EXPIRED)
    group = huey.enqueue(slow.s().then(after.s(expires=10)))
    # The first stage runs 100 s later; the second is enqueued then, and runs at once.
    later = time.time() + 100
    assert drain(huey, later) == 2
    assert sent == []
    assert list(group)[1]() == "ran"


def test_error_handler_extra_args(huey: Huey) -> None:
    seen: list[tuple[Any, ...]] = []

    @huey.task()
    def fail() -> None:
        raise ValueError("x")

    @huey.task()
    def handler(tag: str, info: dict[str, Any]) -> None:
        seen.append((tag, info["type"]))

    huey.enqueue(fail.s().error(handler, "tagged"))
    drain(huey)
    assert seen == [("tagged", "ValueError")]


def test_then_rejects_args_twice(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(ConfigurationError):
        add.s(1, 2).then(add.s(1), 2)
    with pytest.raises(ConfigurationError):
        huey.enqueue(add)  # type: ignore[arg-type]


def test_map_and_enqueue_many(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def double(x: int) -> int:
        return 2 * x

    sent = record_signals(huey, SIGNAL_ENQUEUED)
    g1 = add.map([(1, 2), (3, 4), (5, 6)])
    g2 = double.map(range(4))
    g3 = huey.enqueue_many([add.s(10, 1), double.s(7)])
    assert all(isinstance(g, ResultGroup) for g in (g1, g2, g3))
    assert len(sent) == 3 + 4 + 2
    assert huey.pending_count() == 9
    assert drain(huey) == 9
    assert g1.get() == [3, 7, 11]
    assert g2() == [0, 2, 4, 6]
    assert g3.get() == [11, 14]
    assert sorted(g1.as_completed()) == [3, 7, 11]  # already read: cached in the handles


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
    assert names(sent) == [SIGNAL_SCHEDULED, SIGNAL_SCHEDULED]
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


# --- registration ---------------------------------------------------------------------


def test_async_task_is_refused_at_decoration(mhuey: Huey) -> None:
    with pytest.raises(ConfigurationError, match="async def"):

        @mhuey.task()
        async def coro() -> int:
            return 1

    with pytest.raises(ConfigurationError):

        @mhuey.periodic_task(lambda d: True)
        async def periodic_coro() -> None:
            return None

    assert mhuey.tasks == {}


def test_duplicate_task_name_with_another_function(mhuey: Huey) -> None:
    @mhuey.task(name="dup")
    def first() -> int:
        return 1

    with pytest.raises(ConfigurationError, match="dup"):

        @mhuey.task(name="dup")
        def second() -> int:
            return 2

    assert mhuey.registered("dup") is first
    # Registering the same function again (a re-import) is fine.
    again = mhuey.task(name="dup")(first.func)
    assert again.func is first.func


def test_duplicate_task_name_through_a_decorator(mhuey: Huey) -> None:
    @mhuey.task(name="locked-dup")
    @mhuey.lock_task("one")
    def first() -> int:
        return 1

    with pytest.raises(ConfigurationError):

        @mhuey.task(name="locked-dup")
        @mhuey.lock_task("two")
        def second() -> int:
            return 2

    assert mhuey.registered("locked-dup") is first


def test_unknown_task_option(mhuey: Huey) -> None:
    with pytest.raises(ConfigurationError, match="retry"):
        mhuey.task(retry=3)
    with pytest.raises(ConfigurationError):
        mhuey.task(retries=-1)(lambda: None)


def test_task_without_parentheses_and_call_local(mhuey: Huey) -> None:
    @mhuey.task
    def plain(x: int) -> int:
        return x + 1

    assert plain.call_local(1) == 2
    assert plain.unwrap()(2) == 3
    res = plain(4)
    drain(mhuey)
    assert res() == 5
    assert mhuey.registered(plain.name) is plain


def test_periodic_task_needs_a_schedule(mhuey: Huey) -> None:
    with pytest.raises(ConfigurationError):
        mhuey.periodic_task("*/5 * * * *")  # type: ignore[arg-type]


# --- signals --------------------------------------------------------------------------


def test_signal_receivers_get_signal_task_and_extra(huey: Huey) -> None:
    calls: list[tuple[Any, ...]] = []

    @huey.signal()
    def everything(signal: str, task: Task, *extra: Any) -> None:
        calls.append((signal, task.id, extra))

    @huey.task()
    def ok() -> int:
        return 1

    @huey.task()
    def boom() -> None:
        raise ValueError("boom")

    r1 = ok()
    drain(huey)
    assert [c[0] for c in calls] == [SIGNAL_ENQUEUED, SIGNAL_EXECUTING, SIGNAL_COMPLETE]
    assert all(c[1] == r1.id for c in calls)
    assert [c[2] for c in calls] == [(), (), ()]

    calls.clear()
    errors: list[tuple[Any, ...]] = []

    @huey.signal(SIGNAL_ERROR)
    def on_error(signal: str, task: Task, *extra: Any) -> None:
        errors.append((signal, task.id, *extra))

    r2 = boom()
    drain(huey)
    assert [c[0] for c in calls] == [SIGNAL_ENQUEUED, SIGNAL_EXECUTING, SIGNAL_ERROR]
    (sig, task_id, exc) = errors[0]
    assert sig == SIGNAL_ERROR and task_id == r2.id
    assert isinstance(exc, ValueError) and str(exc) == "boom"

    huey.disconnect_signal(everything)
    ok()
    assert len(calls) == 3


def test_failing_receiver_does_not_break_the_worker(huey: Huey) -> None:
    @huey.signal(SIGNAL_EXECUTING, SIGNAL_COMPLETE, SIGNAL_ENQUEUED)
    def broken(signal: str, task: Task, *extra: Any) -> None:
        raise RuntimeError("receiver failed")

    later: list[str] = []

    @huey.signal(SIGNAL_COMPLETE)
    def fine(signal: str, task: Task, *extra: Any) -> None:
        later.append(task.id)

    @huey.task()
    def one() -> int:
        return 1

    res = one()
    assert drain(huey) == 1
    assert res() == 1
    assert later == [res.id]


def test_unknown_signal_name(mhuey: Huey) -> None:
    with pytest.raises(ValueError):
        mhuey.signal("no-such-signal")(lambda *a: None)


# --- locks ----------------------------------------------------------------------------


def test_lock_task_as_context_manager(huey: Huey) -> None:
    with huey.lock_task("ctx") as lock:
        assert huey.is_locked("ctx") and lock.is_locked()
        with pytest.raises(TaskLockedException):
            with huey.lock_task("ctx"):
                pass  # pragma: no cover
        with pytest.raises(TaskLockedException):
            with lock:  # the same object cannot take it twice either
                pass  # pragma: no cover
        assert huey.is_locked("ctx")
    assert not huey.is_locked("ctx")


def test_lock_is_released_when_the_body_raises(huey: Huey) -> None:
    with pytest.raises(KeyError):
        with huey.lock_task("raising"):
            raise KeyError("x")
    assert not huey.is_locked("raising")


def test_lock_task_as_decorator(huey: Huey) -> None:
    seen: list[bool] = []

    @huey.lock_task("deco")
    def guarded(x: int) -> int:
        seen.append(huey.is_locked("deco"))
        return x

    assert guarded.__name__ == "guarded"
    assert guarded(3) == 3
    assert seen == [True]
    assert not huey.is_locked("deco")
    with huey.lock_task("deco"):
        with pytest.raises(TaskLockedException):
            guarded(4)


def test_stale_holder_does_not_release_a_lock_taken_since(huey: Huey) -> None:
    first = huey.lock_task("shared")
    second = huey.lock_task("shared")
    assert first.acquire()
    assert not second.acquire()
    assert huey.flush_locks("shared") == {"shared"}  # e.g. an operator, or the TTL
    assert second.acquire()
    assert not first.release()  # its token is not the one in the store
    assert huey.is_locked("shared")
    assert second.release()
    assert not huey.is_locked("shared")
    assert not second.release()


def test_stale_holder_after_lock_ttl_lapsed(mhuey: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [time.time()]
    monkeypatch.setattr("engine.storage.memory.time", types.SimpleNamespace(time=lambda: clock[0]))
    first = mhuey.lock_task("ttl", ttl=30)
    second = mhuey.lock_task("ttl", ttl=30)
    with first:
        assert not second.acquire()
        clock[0] += 31  # first's lock expired while it was still working
        assert not mhuey.is_locked("ttl")
        assert second.acquire()
    # first left its with-block: second's lock must survive.
    assert mhuey.is_locked("ttl")
    assert second.release()


def test_task_hitting_a_held_lock_is_retried(huey: Huey) -> None:
    @huey.task(retries=1)
    @huey.lock_task("busy")
    def guarded() -> str:
        return "ran"

    sent = record_signals(huey, SIGNAL_LOCKED, SIGNAL_ERROR, SIGNAL_RETRYING)
    res = guarded()
    with huey.lock_task("busy"):
        assert step(huey)
    assert names(sent) == [SIGNAL_LOCKED, SIGNAL_RETRYING]
    assert sent[0][1].id == res.id
    assert res() is None
    assert huey.pending_count() == 1
    assert step(huey)
    assert res() == "ran"
    assert huey.storage.counts().dead == 0


def test_task_hitting_a_held_lock_without_retries(huey: Huey) -> None:
    @huey.task()
    @huey.lock_task("busy2")
    def guarded() -> str:
        return "ran"

    sent = record_signals(huey, SIGNAL_LOCKED, SIGNAL_ERROR)
    res = guarded()
    with huey.lock_task("busy2"):
        assert step(huey)
    assert names(sent) == [SIGNAL_LOCKED]
    with pytest.raises(TaskException) as info:
        res()
    assert info.value.metadata["type"] == "TaskLockedException"
    assert huey.storage.counts().dead == 0  # not dead-lettered: it was not a failure


def test_flush_locks_and_is_locked(huey: Huey) -> None:
    for name in ("a", "b", "c"):
        assert huey.lock_task(name).acquire()
    assert all(huey.is_locked(n) for n in "abc")
    assert huey.flush_locks("a", "missing") == {"a"}
    assert not huey.is_locked("a") and huey.is_locked("b")
    assert huey.flush_locks() == {"b", "c"}
    assert not any(huey.is_locked(n) for n in "abc")
    assert huey.flush_locks() == set()


def test_lock_clear(huey: Huey) -> None:
    lock = huey.lock_task("clear")
    assert lock.acquire()
    assert lock.clear()
    assert not lock.is_locked()


def test_decorated_lock_follows_the_queue_into_immediate_mode(
    make_storage: Callable[..., Storage],
) -> None:
    h = MemoryHuey("lock-immediate")
    live = make_storage()
    h.storage = live
    seen: list[bool] = []

    @h.task()
    @h.lock_task("imm")
    def guarded() -> int:
        seen.append(h.is_locked("imm"))
        return 1

    h.immediate = True
    assert guarded()() == 1
    assert live.keys("") == []  # nothing written to the live store
    assert seen == [True]


# --- key/value ------------------------------------------------------------------------


def test_put_get_delete(huey: Huey) -> None:
    huey.put("k", {"a": [1, 2], "t": (1,)})
    assert huey.get("k", peek=True) == {"a": [1, 2], "t": (1,)}
    assert huey.get("k", peek=True) == {"a": [1, 2], "t": (1,)}
    assert huey.get("k") == {"a": [1, 2], "t": (1,)}
    assert huey.get("k") is None

    huey.put("d", 1)
    assert huey.delete("d")
    assert not huey.delete("d")
    assert huey.get("d") is None

    assert huey.put_if_empty("once", "first")
    assert not huey.put_if_empty("once", "second")
    assert huey.get("once") == "first"
    assert huey.put_if_empty("once", "third")

    huey.put("none", None)
    assert huey.get("none", peek=True) is None
    assert huey.result_count() == 2
    huey.put_result("pr", 5)
    assert huey.all_results()["pr"] == {"value": 5}


# --- immediate mode -------------------------------------------------------------------


def test_immediate_mode_runs_tasks_at_once(mhuey: Huey) -> None:
    mhuey.immediate = True
    assert isinstance(mhuey.storage, MemoryStorage)

    @mhuey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @mhuey.task()
    def boom() -> None:
        raise ValueError("immediate")

    assert add(1, 2)() == 3
    assert huey_counts_empty(mhuey)
    with pytest.raises(TaskException):
        boom()()
    assert mhuey.enqueue(add.s(1, 2).then(add, 10)).get() == [3, 13]
    assert add.map([(1, 1), (2, 2)]).get() == [2, 4]

    res = add.schedule((5, 5), delay=60)
    assert res() is None
    assert mhuey.scheduled_count() == 1 and mhuey.pending_count() == 0


def huey_counts_empty(h: Huey) -> bool:
    c = h.storage.counts()
    return c.ready == c.scheduled == c.running == 0


def test_immediate_mode_swaps_in_a_memory_store(huey: Huey) -> None:
    live = huey.storage

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    huey.immediate = True
    assert huey.storage is not live and isinstance(huey.storage, MemoryStorage)
    assert add(2, 2)() == 4
    assert live.counts().ready == 0 and live.keys("") == []
    huey.immediate = False
    assert huey.storage is live
    res = add(3, 3)
    assert live.counts().ready == 1
    drain(huey)
    assert res() == 6


def test_immediate_on_construction() -> None:
    h = MemoryHuey("imm", immediate=True)
    assert h.immediate

    @h.task()
    def one() -> int:
        return 1

    assert one()() == 1


# --- messages the worker cannot run ---------------------------------------------------


def _good_task(h: Huey) -> Callable[..., Any]:
    @h.task()
    def good(x: int) -> int:
        return x

    return good


def test_bad_json_is_dead_lettered_and_the_worker_goes_on(huey: Huey) -> None:
    good = _good_task(huey)
    bad_id = new_task_id()
    huey.storage.enqueue([Message(bad_id, b"{not json")])
    res = good(1)
    assert step(huey)
    (dead,) = huey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED
    assert "not JSON" in dead.error
    assert step(huey)
    assert res() == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"[1, 2]",
        b'{"id": "x"}',
        b'{"id": "x", "task": "t", "args": {"$nope": 1}}',
        b'{"id": "x", "task": "t", "args": 5}',
        b"\xff\xfe",
    ],
)
def test_other_malformed_envelopes(mhuey: Huey, payload: bytes) -> None:
    @mhuey.task(name="t")
    def t() -> int:
        return 1

    bad_id = new_task_id()
    mhuey.storage.enqueue([Message(bad_id, payload)])
    assert step(mhuey)
    (dead,) = mhuey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED


def test_envelope_without_id_is_dead_lettered(mhuey: Huey) -> None:
    good = _good_task(mhuey)
    bad_id = new_task_id()
    mhuey.storage.enqueue([Message(bad_id, b'{"task": "x", "args": [], "kwargs": {}}')])
    res = good(1)
    assert step(mhuey)
    (dead,) = mhuey.storage.dead_items()
    assert dead.id == bad_id and dead.reason == REASON_MALFORMED
    assert step(mhuey)
    assert res() == 1


def test_unknown_task_is_dead_lettered(huey: Huey) -> None:
    good = _good_task(huey)
    stray = Task(name="somewhere.else.task", args=(1,))
    huey.storage.enqueue([Message(stray.id, huey.envelope.encode(stray))])
    res = good(2)
    assert step(huey)
    (dead,) = huey.storage.dead_items()
    assert dead.id == stray.id and dead.reason == REASON_UNKNOWN
    assert "somewhere.else.task" in dead.error
    assert step(huey)
    assert res() == 2


def test_wrong_signature_is_dead_lettered(make_storage: Callable[..., Storage]) -> None:
    h = MemoryHuey("signed", signing_key=b"right key")
    h.storage = make_storage()
    good = _good_task(h)
    forged = good.s(666)
    wrong = Envelope(signing_key=b"wrong key").encode(forged)
    unsigned_task = good.s(667)
    unsigned = Envelope().encode(unsigned_task)
    h.storage.enqueue([Message(forged.id, wrong), Message(unsigned_task.id, unsigned)])
    res = good(3)
    assert drain(h) == 3
    dead = {d.id: d.reason for d in h.storage.dead_items()}
    assert dead == {forged.id: REASON_MALFORMED, unsigned_task.id: REASON_MALFORMED}
    assert res() == 3


def test_signed_messages_round_trip(mhuey: Huey) -> None:
    h = MemoryHuey("signed-ok", signing_key="key")

    @h.task()
    def add(a: int, b: int) -> int:
        return a + b

    group = h.enqueue(add.s(1, 2).then(add, 3))
    drain(h)
    assert group.get() == [3, 6]


# --- codecs ---------------------------------------------------------------------------


def test_pickle_codec_round_trip(make_storage: Callable[..., Storage]) -> None:
    h = MemoryHuey("pickled", codec="pickle")
    h.storage = make_storage()

    @h.task()
    def move(p: Point, dx: int = 1) -> Point:
        return p.moved(dx)

    res = move(Point(1, 2), dx=5)
    group = h.enqueue(move.s(Point(0, 0)).then(move))
    drain(h)
    assert res() == Point(6, 2)
    assert group.get() == [Point(1, 0), Point(2, 0)]


def test_json_codec_rejects_unserializable_arguments(mhuey: Huey) -> None:
    @mhuey.task()
    def take(x: Any) -> None:
        return None

    with pytest.raises(CodecError):
        take(Point(1, 2))
    assert mhuey.pending_count() == 0


def test_json_codec_unserializable_return_value_is_an_error_result(huey: Huey) -> None:
    @huey.task()
    def odd() -> Any:
        return Point(1, 2)

    @huey.task()
    def one() -> int:
        return 1

    bad, good = odd(), one()
    sent = record_signals(huey, SIGNAL_ERROR, SIGNAL_COMPLETE)
    assert drain(huey) == 2
    with pytest.raises(TaskException) as info:
        bad()
    assert info.value.metadata["type"] == "CodecError"
    assert "Point" in info.value.error
    assert good() == 1
    assert names(sent) == [SIGNAL_ERROR, SIGNAL_COMPLETE]
    assert [d.id for d in huey.storage.dead_items()] == [bad.id]


# --- small facade helpers -------------------------------------------------------------


def test_inspection_helpers(huey: Huey) -> None:
    @huey.task(priority=5)
    def hi() -> int:
        return 1

    @huey.task()
    def lo() -> int:
        return 2

    r_lo, r_hi = lo(), hi()
    assert len(huey) == 2
    assert [t.id for t in huey.pending()] == [r_hi.id, r_lo.id]  # priority first
    assert huey.pending(limit=1)[0].id == r_hi.id
    assert repr(huey).startswith("<MemoryHuey 'test-engine' on ")
    huey.flush()
    assert len(huey) == 0
