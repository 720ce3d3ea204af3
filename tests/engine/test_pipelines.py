"""Pipelines: .s().then() chains, error handlers, map and groups.

Each test runs the worker one step at a time with an explicit ``now`` (see
``support/steps.py``); fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from support.steps import (
    drain,
    record_signals,
    scheduled_etas,
)

from engine import (
    SIGNAL_ENQUEUED,
    SIGNAL_EXPIRED,
    ConfigurationError,
    Result,
    ResultGroup,
    TaskException,
)
from engine.api import Huey

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


def test_then_appends_arguments_to_a_call(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    pipe = add.s(1, 2).then(add.s(), 2, b=5)  # as huey: appended to the call's own
    assert pipe.on_complete is not None and pipe.on_complete.args == (2,)
    assert pipe.on_complete.kwargs == {"b": 5}
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


def test_map_builds_the_calls_s_builds(huey: Huey) -> None:
    @huey.task(retries=2, retry_delay=3, priority=5, expires=60, timeout=9, name="adder")
    def add(a: int, b: int = 0) -> int:
        return a + b

    class Pair(tuple):  # a tuple subclass is still *args, as a plain tuple
        pass

    items: list[Any] = [(1, 2), Pair((3, 4)), 7]
    built = huey.new_calls(add.spec, [(1, 2), (3, 4), (7,)])
    by_s = [add.s(1, 2), add.s(3, 4), add.s(7)]
    for a, b in zip(built, by_s, strict=True):
        assert a == replace(b, id=a.id) and type(a.args) is tuple
        assert a.expires_in == b.expires_in == 60 and a.minted == a.id  # fresh: never stored
    assert len({t.id for t in built}) == 3 and [t.id for t in built] == sorted(t.id for t in built)
    group = add.map(items)
    assert group is not None and huey.pending_count() == 3
    assert drain(huey) == 3 and group.get() == [3, 7, 7]

    @huey.task()
    def ident(x: Any) -> Any:
        return x

    group = ident.map([[5, 6], (1,), "ab"])  # as in huey: only a tuple is *args
    assert group is not None and drain(huey) == 3 and group.get() == [[5, 6], 1, "ab"]
