"""Groups and chords: the callback gets every member's result once, in member order."""

from __future__ import annotations

import time
from typing import Any

from engine import SKIPPED, MemoryHuey, chord, group
from engine.executor import Executor


def drain(huey: MemoryHuey, now: float | None = None) -> int:
    worker, n = Executor(huey, "c1"), 0
    while worker.step(time.time() if now is None else now):
        n += 1
    return n


def make() -> tuple[MemoryHuey, Any, Any, Any]:
    huey = MemoryHuey("chords")

    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def total(values: list[Any], label: str = "sum") -> str:
        return f"{label}={sum(v for v in values if isinstance(v, int))}:{len(values)}"

    @huey.task(retries=1)
    def flaky(x: int, fail_first: list[bool] = [True]) -> int:  # noqa: B006
        if fail_first[0]:
            fail_first[0] = False
            raise ValueError("first attempt")
        return x

    return huey, add, total, flaky


def test_group_returns_one_result_per_member() -> None:
    huey, add, _, _ = make()
    results = huey.enqueue(group([add.s(1, 2), add.s(3, 4)]))
    drain(huey)
    assert results.get() == [3, 7]


def test_chord_callback_gets_results_in_member_order() -> None:
    huey, add, total, _ = make()
    res = huey.enqueue(chord([add.s(i, i) for i in range(5)], total.s(label="t")))
    drain(huey)
    assert res.get() == "t=20:5"
    assert res.results.get() == [0, 2, 4, 6, 8]
    assert [k for k in huey.storage.keys("chord:") if not k.endswith(":fired")] == []


def test_a_member_that_retries_does_not_fire_the_callback_early() -> None:
    huey, add, total, flaky = make()
    seen: list[Any] = []

    @huey.task()
    def collect(values: list[Any]) -> None:
        seen.append(values)

    huey.enqueue(group([flaky.s(10), add.s(1, 1)]).then(collect))
    drain(huey)
    assert seen == [[10, 2]]


def test_failed_and_revoked_members_are_reported() -> None:
    huey, add, _, _ = make()
    seen: list[Any] = []

    @huey.task()
    def boom() -> None:
        raise RuntimeError("no")

    @huey.task()
    def collect(values: list[Any]) -> None:
        seen.append(values)

    skipped = add.s(5, 5)
    huey.enqueue(chord([boom.s(), skipped, add.s(1, 1)], collect))
    huey.revoke_by_id(skipped.id)
    drain(huey)
    (values,) = seen
    assert "RuntimeError" in values[0]["error"] and values[0]["task_id"]  # an Error, as a dict
    assert values[1:] == [SKIPPED, 2]


def test_a_lost_finish_reply_still_fires_the_callback_once() -> None:
    huey, add, total, _ = make()
    res = huey.enqueue(chord([add.s(1, 1), add.s(2, 2)], total))
    worker = Executor(huey, "c1")
    real_finish = huey.storage.finish
    calls = {"n": 0}

    def lossy(consumer: str, task_id: str, now: float, outcome: Any) -> Any:
        refused = real_finish(consumer, task_id, now, outcome)
        calls["n"] += 1
        if calls["n"] == 2:  # the last member's commit happened, its reply was lost
            from engine.exceptions import StoreUnavailable

            raise StoreUnavailable("reply lost")
        return refused

    huey.storage.finish = lossy  # type: ignore[method-assign]
    now = time.time()
    while worker.step(now):
        pass
    assert res.get() == "sum=6:2"
    assert huey.pending_count() == 0
