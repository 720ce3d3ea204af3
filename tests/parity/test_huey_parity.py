"""Issue 10: code written against huey 3.5.4's documented API runs unchanged.

One test (or a small group) per bullet of the issue, each stating what huey does
(read from huey 3.5.4's source, which is installed alongside for the comparisons
that can ask it directly). Where we keep a behaviour of our own, the test holds
that it is written in docs/huey-differences.md (or the README) instead.

Tasks run through the public API; a worker is stepped explicitly (as in
tests/engine/) through :func:`drain`, the one place that knows where the
worker lives, so tests never depend on immediate mode looping forever.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from support.parity import (
    ROOT,
    drain,
    hexc,
)

import engine
from engine import (
    SIGNAL_ENQUEUED,
    SIGNAL_SCHEDULED,
    SKIPPED,
    CancelExecution,
    MemoryHuey,
    RateLimitExceeded,
    TaskException,
    chord,
    crontab,
    group,
)

# --- constructor and consumer options ---


def test_redis_huey_accepts_documented_storage_options(redis_url: str) -> None:
    # The example, as found in Django HUEY settings.
    q = engine.RedisHuey(
        "parity-app", url=redis_url, blocking=True, read_timeout=1, notify_result=True
    )
    try:
        # redis-py takes any keyword when the pool is built and fails on first use.
        assert len(q) == 0
    finally:
        q.storage.close()


def test_create_consumer_accepts_huey_options(h: MemoryHuey) -> None:
    consumer = h.create_consumer(
        workers=4, initial_delay=0.1, backoff=1.15, max_delay=10.0, check_worker_health=True
    )
    assert consumer.workers == 4


# --- CancelExecution ---


def test_cancel_execution_with_message_runs_once_and_result_raises(h: MemoryHuey) -> None:
    runs: list[int] = []

    @h.task()
    def not_today() -> None:
        runs.append(1)
        raise CancelExecution("not today")

    res = not_today()
    drain(h)
    assert len(runs) == 1
    with pytest.raises(TaskException) as info:
        res()
    assert "not today" in str(info.value)


def test_plain_cancel_execution_result_raises_task_exception(h: MemoryHuey) -> None:
    @h.task()
    def cancel() -> None:
        raise CancelExecution()

    res = cancel()
    drain(h)
    with pytest.raises(TaskException) as info:
        res()
    assert "CancelExecution" in str(info.value)


def test_pre_execute_cancel_execution_with_message_cancels_once(h: MemoryHuey) -> None:
    calls: list[str] = []

    @h.pre_execute()
    def gate(task: Any) -> None:
        calls.append(task.id)
        raise CancelExecution("not today")

    @h.task()
    def body() -> None:
        calls.append("ran")

    body()
    drain(h)
    assert len(calls) == 1 and "ran" not in calls


# --- chords ---


def test_chord_fires_when_member_pipeline_head_fails(
    h: MemoryHuey, add: Any, boom: Any, collect: Any
) -> None:
    r = h.enqueue(chord([boom.s().then(add, 1), add.s(1, 2)], collect.s()))
    drain(h)
    values = r.get()
    assert "ValueError('boom')" in str(values[0]) and values[1] == 3


def test_chord_callback_sees_error_objects(h: MemoryHuey, add: Any, boom: Any) -> None:
    @h.task()
    def errors(results: list[Any]) -> list[Any]:
        # As a huey user writes it: a member that failed for good is an Error.
        return [r.metadata["error"] if isinstance(r, engine.Error) else r for r in results]

    r = h.enqueue(chord([boom.s(), add.s(1, 2)], errors.s()))
    drain(h)
    assert r.get() == ["ValueError('boom')", 3]


def test_chord_fires_when_member_pipeline_head_is_revoked(
    h: MemoryHuey, add: Any, collect: Any
) -> None:
    member = add.s(1, 2).then(add, 3)
    h.revoke_by_id(member.id)
    r = h.enqueue(chord([member, add.s(5, 5)], collect.s()))
    drain(h)
    assert r.get() == [SKIPPED, 10]


def test_chord_result_and_pipeline_results_share_the_callback(
    h: MemoryHuey, add: Any, collect: Any
) -> None:
    @h.task()
    def count(results: list[int]) -> int:
        return len(results)

    first = h.enqueue(chord([add.s(1, 2), add.s(3, 4)], collect.s()).then(count))
    second = h.enqueue(chord([add.s(1, 2), add.s(3, 4)], collect.s()).then(count))
    drain(h)
    assert first() == [3, 7]
    assert first.pipeline_results() == [[3, 7], 2]
    assert second.pipeline_results() == [[3, 7], 2]
    assert second() == [3, 7]


def test_nested_chord(h: MemoryHuey, add: Any, collect: Any) -> None:
    @h.task()
    def total(results: list[int]) -> int:
        return sum(results)

    inner = chord([add.s(1, 2), add.s(3, 4)], total.s())
    r = h.enqueue(chord([inner, add.s(5, 6)], collect.s()))
    drain(h)
    assert r.get() == [10, 11]


def test_empty_chord_runs_callback_at_once(h: MemoryHuey, collect: Any) -> None:
    r = h.enqueue(chord([], collect.s()))
    drain(h)
    assert r.get() == []


# --- results=False ---


@pytest.mark.parametrize("option", ["results", "result_store"])
def test_no_result_handles_without_results(option: str) -> None:
    q = MemoryHuey("parity-noresults", **{option: False})

    @q.task()
    def add(a: int, b: int) -> int:
        return a + b

    assert add(1, 2) is None
    assert add.schedule((1, 2), delay=60) is None
    assert q.enqueue(add.s(1, 2)) is None


# --- signals ---


def test_schedule_sends_enqueued(add: Any, signals: list[tuple[str, str]]) -> None:
    res = add.schedule((1, 2), delay=60)
    assert signals == [(SIGNAL_ENQUEUED, res.id)]


def test_retry_sends_enqueued(h: MemoryHuey, signals: list[tuple[str, str]]) -> None:
    @h.task(retries=1)
    def flaky() -> None:
        raise ValueError("again")

    res = flaky()
    drain(h)
    assert signals.count((SIGNAL_ENQUEUED, res.id)) == 2


def test_delayed_retry_sends_scheduled(h: MemoryHuey, signals: list[tuple[str, str]]) -> None:
    @h.task(retries=1, retry_delay=60)
    def flaky() -> None:
        raise ValueError("later")

    res = flaky()
    drain(h)
    assert (SIGNAL_SCHEDULED, res.id) in signals


def test_pipeline_step_sends_enqueued(
    h: MemoryHuey, add: Any, signals: list[tuple[str, str]]
) -> None:
    pipe = add.s(1, 2).then(add, 3)
    h.enqueue(pipe)
    drain(h)
    assert [s for s in signals if s[0] == SIGNAL_ENQUEUED] == [
        (SIGNAL_ENQUEUED, pipe.id),
        (SIGNAL_ENQUEUED, pipe.on_complete.id),
    ]


def test_chord_callback_sends_enqueued(
    h: MemoryHuey, add: Any, collect: Any, signals: list[tuple[str, str]]
) -> None:
    r = h.enqueue(chord([add.s(1, 2)], collect.s()))
    drain(h)
    assert (SIGNAL_ENQUEUED, r.callback.id) in signals


# --- eta and revocation ---


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_task_eta_is_a_datetime(add: Any) -> None:
    assert isinstance(add.s(1, 2, delay=60).eta, dt.datetime)
    assert isinstance(add.schedule((1, 2), delay=60).task.eta, dt.datetime)


def test_is_revoked_takes_a_datetime(add: Any) -> None:
    add.revoke(revoke_until=_utcnow() + dt.timedelta(hours=1))
    assert add.is_revoked(timestamp=_utcnow())
    assert not add.is_revoked(timestamp=_utcnow() + dt.timedelta(hours=2))


def test_is_revoked_peek_false_spends_a_revoke_once(add: Any) -> None:
    add.revoke(revoke_once=True)
    assert add.is_revoked(peek=False)
    assert not add.is_revoked()


def test_a_new_revoke_replaces_the_old(h: MemoryHuey, add: Any) -> None:
    add.revoke()
    add.revoke(revoke_until=_utcnow() - dt.timedelta(minutes=1))
    assert not add.is_revoked()


# --- crontab helpers ---


def test_crontab_hourly_and_daily() -> None:
    hourly, daily = crontab.hourly(), crontab.daily()  # type: ignore[attr-defined]
    assert hourly(dt.datetime(2026, 1, 5, 7, 0)) and not hourly(dt.datetime(2026, 1, 5, 7, 1))
    assert daily(dt.datetime(2026, 1, 5, 0, 0)) and not daily(dt.datetime(2026, 1, 5, 7, 0))


# --- then / error ---


def test_then_appends_arguments_to_a_signature(h: MemoryHuey, add: Any) -> None:
    r = h.enqueue(add.s(1, 2).then(add.s(), 10))
    drain(h)
    assert r.get() == [3, 13]


def test_group_then_appends_arguments(h: MemoryHuey, add: Any) -> None:
    @h.task()
    def tag(label: str, results: list[int], k: int = 0) -> list[Any]:
        return [label, results, k]

    r = h.enqueue(group([add.s(1, 2), add.s(3, 4)]).then(tag.s(), "p", k=1))
    drain(h)
    assert r.get() == ["p", [3, 7], 1]


def test_error_handlers_chain(h: MemoryHuey, boom: Any) -> None:
    calls: list[str] = []

    @h.task()
    def handler_a(info: Any) -> None:
        calls.append("a")
        raise RuntimeError("a failed")

    @h.task()
    def handler_b(info: Any) -> None:
        calls.append("b")

    h.enqueue(boom.s().error(handler_a.s()).error(handler_b.s()))
    drain(h)
    assert calls == ["a", "b"]


# --- context_task, interrupted tasks, error results ---


class Resource:
    def __init__(self) -> None:
        self.entered = self.exited = 0

    def __enter__(self) -> str:
        self.entered += 1
        return "conn"

    def __exit__(self, *exc: object) -> None:
        self.exited += 1


def test_context_task(h: MemoryHuey) -> None:
    resource = Resource()

    @h.context_task(resource, as_argument=True, retries=1)  # type: ignore[attr-defined]
    def use(conn: str, x: int) -> list[Any]:
        return [conn, x]

    res = use(1)
    drain(h)
    assert res() == ["conn", 1]
    assert (resource.entered, resource.exited) == (1, 1)


def test_notify_interrupted_tasks_exists(h: MemoryHuey) -> None:
    h.notify_interrupted_tasks()  # type: ignore[attr-defined]


def test_build_error_result_override_shapes_the_stored_error() -> None:
    class Tenant(MemoryHuey):
        def build_error_result(self, task: Any, exception: Exception) -> dict[str, Any]:
            meta: dict[str, Any] = super().build_error_result(task, exception)  # type: ignore[misc]
            meta["tenant"] = "acme"
            return meta

    q = Tenant("parity-tenant")

    @q.task()
    def fail() -> None:
        raise ValueError("x")

    res = fail()
    drain(q)
    with pytest.raises(TaskException) as info:
        res()
    assert info.value.metadata["tenant"] == "acme"


def test_failure_on_failed_subtask_records_inner_error(h: MemoryHuey, boom: Any) -> None:
    inner = boom()
    drain(h)

    @h.task()
    def outer(task_id: str) -> Any:
        return h.result(task_id)

    res = outer(inner.id)
    drain(h)
    with pytest.raises(TaskException) as info:
        res()
    assert str(info.value) == "ValueError('boom')"


# --- queue order ---


def test_retry_goes_to_the_back_of_the_queue(every_store: MemoryHuey) -> None:
    order: list[str] = []

    @every_store.task(retries=1)
    def flaky() -> None:
        order.append("flaky")
        if order.count("flaky") == 1:
            raise ValueError("first time")

    @every_store.task()
    def later() -> None:
        order.append("later")

    flaky()
    later()
    drain(every_store)
    assert order == ["flaky", "later", "flaky"]


def test_pipeline_continuation_goes_to_the_back_of_the_queue(every_store: MemoryHuey) -> None:
    order: list[str] = []

    @every_store.task()
    def step(name: str, *prev: Any) -> str:
        order.append(name)
        return name

    every_store.enqueue(step.s("a").then(step, "b"))
    step("c")
    drain(every_store)
    assert order == ["a", "c", "b"]


# --- rate limits, schedule shorthand, names, re-registration ---


def test_rate_limit_exceeded_str_and_pickle() -> None:
    ours = RateLimitExceeded("api", 2.0)
    theirs = hexc.RateLimitExceeded("api", 2.0)
    assert str(ours) == str(theirs)
    again = pickle.loads(pickle.dumps(ours))
    assert (again.key, again.delay, again.retry) == ("api", 2.0, True)


def test_rate_limit_zero_refuses_every_call(h: MemoryHuey) -> None:
    limit = h.rate_limit("closed", 0, 60)
    with pytest.raises(RateLimitExceeded):
        limit.acquire()


@pytest.mark.parametrize(
    "when",
    [60, dt.timedelta(minutes=1), "eta"],
    ids=["seconds", "timedelta", "datetime"],
)
def test_schedule_shorthand(h: MemoryHuey, when: Any) -> None:
    runs: list[int] = []

    @h.task()
    def ping() -> None:
        runs.append(1)

    if when == "eta":
        when = dt.datetime.now() + dt.timedelta(minutes=1)
    ping.schedule(when)
    drain(h)
    assert runs == []
    drain(h, at=120)
    assert runs == [1]


def test_schedule_takes_a_list_as_args(h: MemoryHuey, add: Any) -> None:
    res = add.schedule([1, 2], delay=1)
    drain(h, at=5)
    assert res() == 3


def test_signature_name_is_the_function_name(h: MemoryHuey, add: Any) -> None:
    assert add.s(1, 2).name == "add"

    @h.task(name="renamed")
    def other() -> None: ...

    assert other.s().name == "renamed"


def test_wire_name_stays_module_qualname(h: MemoryHuey, add: Any) -> None:
    # Issue 10: s().name answers as huey's does, but the stored name does not change.
    from engine.envelope import readable

    add(1, 2)
    [msg] = h.storage.ready_items(0, 10)
    assert readable(msg.data, msg.id)["task"] == f"{add.func.__module__}.{add.func.__qualname__}"


def test_wrapper_registers_on_a_second_huey(add: Any) -> None:
    other = MemoryHuey("parity-other")
    again = other.task(retries=1)(add)
    assert again.huey is other and again.retries == 1
    res = again(1, 2)
    drain(other)
    assert res() == 3


# --- logging ---


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def huey_log() -> Iterator[_Records]:
    handler, logger = _Records(), logging.getLogger("huey")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def test_worker_logs_reach_the_huey_logger(h: MemoryHuey, boom: Any, huey_log: _Records) -> None:
    boom()
    drain(h)
    assert any(r.levelno >= logging.ERROR for r in huey_log.records)


# --- other queue classes ---


def test_black_hole_huey_drops_everything() -> None:
    cls = importlib.import_module("engine").BlackHoleHuey
    q = cls("parity-blackhole")

    @q.task()
    def add(a: int, b: int) -> int:
        return a + b

    res = add(1, 2)
    add.schedule((1, 2), delay=60)
    assert len(q) == 0 and q.scheduled_count() == 0
    assert res is None or res() is None


def test_readme_says_which_huey_queues_are_not_offered() -> None:
    readme = (ROOT / "README.md").read_text()
    differences = readme.split("## Differences from huey", 1)[-1].split("\n## ", 1)[0]
    for name in ("FileHuey", "CySqliteHuey", "PostgresHuey"):
        assert name in differences
