"""``async def`` tasks under the synchronous executor (thread and process workers,
immediate mode): one reused loop per thread, timeouts that cancel the coroutine,
retries, locks, signals and results as for plain tasks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from support.steps import drain

from engine import (
    SIGNAL_COMPLETE,
    SIGNAL_EXECUTING,
    SIGNAL_TIMEOUT,
    MemoryHuey,
    TaskException,
)
from engine.api import Huey
from engine.coro import run_coroutine, thread_loop
from engine.task import Task


def test_async_task_runs_and_stores_its_result(huey: Huey) -> None:
    @huey.task()
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    res = add(2, 3)
    drain(huey)
    assert res.get() == 5


def test_one_loop_per_thread_reused_across_tasks(mhuey: Huey) -> None:
    loops: list[int] = []

    @mhuey.task()
    async def which() -> None:
        loops.append(id(asyncio.get_running_loop()))

    for _ in range(3):
        which()
    drain(mhuey)
    assert len(loops) == 3 and len(set(loops)) == 1
    assert loops[0] == id(thread_loop())


def test_signals_and_context_as_for_plain_tasks(mhuey: Huey) -> None:
    seen: list[tuple[str, str]] = []
    mhuey.signal()(lambda signal, task, *a: seen.append((signal, task.id)))

    @mhuey.task(context=True)
    async def me(task: Task) -> str:
        return task.id

    res = me()
    drain(mhuey)
    assert res.get() == res.id
    assert (SIGNAL_EXECUTING, res.id) in seen and (SIGNAL_COMPLETE, res.id) in seen


def test_timeout_cancels_the_coroutine_and_retries(mhuey: Huey) -> None:
    events: list[str] = []

    @mhuey.task(timeout=0.05, retries=1)
    async def stuck() -> str:
        events.append("start")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "never"

    timeouts: list[str] = []
    mhuey.signal(SIGNAL_TIMEOUT)(lambda signal, task, *a: timeouts.append(task.id))
    res = stuck()
    drain(mhuey)  # the first try times out; the retry is enqueued at once and runs
    assert events == ["start", "cancelled", "start", "cancelled"]
    assert len(timeouts) == 2
    with pytest.raises(TaskException, match="TaskTimeout"):
        res.get()


def test_own_timeout_error_is_not_a_task_timeout(mhuey: Huey) -> None:
    @mhuey.task(timeout=5)
    async def inner() -> None:
        await asyncio.wait_for(asyncio.sleep(1), 0.01)

    res = inner()
    drain(mhuey)
    with pytest.raises(TaskException) as info:
        res.get()
    assert "TimeoutError" in str(info.value.metadata["error"])


def test_lock_held_while_the_coroutine_awaits(mhuey: Huey) -> None:
    lock = mhuey.lock_task("one-at-a-time")
    held: list[bool] = []

    @mhuey.task()
    @lock
    async def guarded() -> None:
        await asyncio.sleep(0)
        held.append(lock.is_locked())

    @mhuey.task()
    async def with_block() -> bool:
        async with mhuey.lock_task("block"):
            return mhuey.lock_task("block").is_locked()

    guarded()
    res = with_block()
    drain(mhuey)
    assert held == [True] and not lock.is_locked()
    assert res.get() is True


def test_plain_def_returning_a_coroutine_is_run(mhuey: Huey) -> None:
    async def body() -> int:
        return 7

    @mhuey.task()
    def wrapper() -> Any:
        return body()

    res = wrapper()
    drain(mhuey)
    assert res.get() == 7


def test_immediate_mode_runs_async_tasks_even_inside_a_running_loop() -> None:
    huey = MemoryHuey("immediate-async", immediate=True)

    @huey.task()
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert double(2).get() == 4

    async def from_async_code() -> Any:
        return double(5).get()  # the loop is running: the task runs on a helper loop

    assert asyncio.run(from_async_code()) == 10


def test_run_coroutine_from_several_threads() -> None:
    out: list[int] = []

    async def ident() -> int:
        return id(asyncio.get_running_loop())

    threads = [threading.Thread(target=lambda: out.append(run_coroutine(ident()))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 2  # each thread its own loop
