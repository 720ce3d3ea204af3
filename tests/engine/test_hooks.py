"""Pre- and post-execute hooks, startup/shutdown hooks and error handlers.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.steps import (
    drain,
    names,
    record_signals,
)

from engine import (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    CancelExecution,
    TaskException,
)
from engine.api import Huey
from engine.task import Task

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


def test_cancel_execution_from_pre_execute_is_not_retried(huey: Huey) -> None:
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
            raise CancelExecution()  # as huey: dropped, even with retries left

    res = work()
    assert drain(huey) == 1
    assert calls == []
    assert res() is None


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
    assert seen == [("add", (1, 2))]  # huey's task name: the function's


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
    with pytest.raises(TaskException, match="CancelExecution"):
        r1()  # as huey: a cancelled call's result raises
    assert r2() == "second time"
    assert names(sent) == [SIGNAL_CANCELED, SIGNAL_CANCELED]
    assert huey.storage.counts().dead == 0


def test_context_true_passes_the_task(huey: Huey) -> None:
    @huey.task(context=True)
    def who(x: int, task: Task | None = None) -> list[Any]:
        assert task is not None
        return [x, task.id, task.name, task.attempt]

    res = who(5)
    drain(huey)
    assert res() == [5, res.id, "who", 1]


def test_cancel_execution_old_retry_first_spelling_is_refused() -> None:
    from engine import ConfigurationError

    with pytest.raises(ConfigurationError, match="CancelExecution\\(retry=True\\)"):
        CancelExecution(True)  # type: ignore[arg-type]


def test_notify_interrupted_tasks_signals_the_calls_in_flight(huey: Huey) -> None:
    from engine import SIGNAL_INTERRUPTED

    sent = record_signals(huey, SIGNAL_INTERRUPTED)

    @huey.task()
    def long_one() -> None:
        huey.notify_interrupted_tasks()  # what a consumer does when it stops now

    res = long_one()
    drain(huey)
    assert [(s, t.id) for s, t, *_ in sent] == [(SIGNAL_INTERRUPTED, res.id)]
    huey.notify_interrupted_tasks()  # nothing in flight any more
    assert len(sent) == 1


def test_context_task_enters_the_object_around_each_call(huey: Huey) -> None:
    seen: list[str] = []

    class Conn:
        def __enter__(self) -> str:
            seen.append("enter")
            return "conn"

        def __exit__(self, *exc: object) -> None:
            seen.append("exit")

    @huey.context_task(Conn())
    def plain(x: int) -> int:
        seen.append("run")
        return x

    res = plain(2)
    drain(huey)
    assert res() == 2 and seen == ["enter", "run", "exit"]
