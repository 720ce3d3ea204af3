"""Task registration and the signals each step of a task sends.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.steps import (
    drain,
)

from engine import (
    SIGNAL_COMPLETE,
    SIGNAL_ENQUEUED,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    ConfigurationError,
)
from engine.api import Huey
from engine.task import Task

# --- registration ---------------------------------------------------------------------


def test_async_generator_task_is_refused_at_decoration(mhuey: Huey) -> None:
    # async def tasks run (tests/engine/test_async_tasks.py); an async generator has
    # no single value to return.
    with pytest.raises(ConfigurationError, match="async generator"):

        @mhuey.task()
        async def gen() -> Any:
            yield 1

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
