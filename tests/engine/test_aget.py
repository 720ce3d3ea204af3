"""``await res.aget()`` and huey's ``engine.contrib.asyncio`` helpers on every store:
the value, a timeout, preserve, cancelling an await (nothing lost, nothing left), and
on Redis many awaits on two connections, woken without polling."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.steps import drain

from engine import ResultTimeout, TaskException
from engine.api import Huey
from engine.contrib.asyncio import aget_result, aget_result_group
from engine.executor import Executor


@pytest.fixture
def tasks(huey: Huey) -> dict[str, Any]:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task()
    def fail() -> None:
        raise ValueError("no")

    return {"add": add, "fail": fail}


def _later(huey: Huey, delay: float) -> threading.Thread:
    """Run what is queued after ``delay`` seconds, from another thread (a worker)."""

    def run() -> None:
        time.sleep(delay)
        worker = Executor(huey, "later")
        while worker.step(time.time()):
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_aget_returns_the_value_once_it_lands(huey: Huey, tasks: dict[str, Any]) -> None:
    res = tasks["add"](1, 2)
    worker = _later(huey, 0.05)
    assert asyncio.run(res.aget(timeout=10)) == 3
    worker.join()
    assert res.get() == 3  # cached on the handle
    assert not huey.has_result(res.id)  # the read was destructive


def test_aget_preserve_timeout_and_failure(huey: Huey, tasks: dict[str, Any]) -> None:
    res = tasks["add"](2, 2)

    async def main() -> None:
        with pytest.raises(ResultTimeout):
            await res.aget(timeout=0.05)
        assert await res.aget(blocking=False) is None
        drain(huey)
        assert await res.aget(timeout=1, preserve=True) == 4
        assert huey.has_result(res.id)
        bad = tasks["fail"]()
        drain(huey)
        with pytest.raises(TaskException):
            await bad.aget(timeout=1)

    asyncio.run(main())


def test_contrib_names_and_groups(huey: Huey, tasks: dict[str, Any]) -> None:
    one = tasks["add"](1, 1)
    group = tasks["add"].map([(1, 2), (3, 4)])
    drain(huey)

    async def main() -> tuple[Any, Any]:
        return await aget_result(one, timeout=1), await aget_result_group(group, timeout=1)

    assert asyncio.run(main()) == (2, [3, 7])


def test_cancelled_await_loses_nothing(huey: Huey, tasks: dict[str, Any]) -> None:
    res = tasks["add"](5, 5)

    async def main() -> None:
        job = asyncio.ensure_future(res.aget(timeout=30))
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        await huey.storage.aclose()

    asyncio.run(main())
    drain(huey)
    assert res.get() == 10  # the result is still there for the next reader


@pytest.fixture
def redis_huey(huey: Huey) -> Iterator[Huey]:
    if type(huey.storage).__name__ != "RedisStorage" or not hasattr(
        huey.storage.client, "connection_pool"
    ):
        pytest.skip("Redis (not Cluster) only")
    yield huey


def test_a_thousand_awaits_share_two_connections(redis_huey: Huey) -> None:
    huey = redis_huey

    @huey.task()
    def echo(i: int) -> int:
        return i

    handles = [echo(i) for i in range(1000)]
    admin = huey.storage.client
    db = admin.connection_pool.connection_kwargs.get("db", 0)

    def awaiting() -> set[str]:  # awaiting connections on our database
        return {
            c["id"]
            for c in admin.client_list()
            if c.get("name") == "hueyctl:await" and int(c.get("db", -1)) == db
        }

    before = awaiting()  # (other tests' loops may not have closed theirs yet)

    def ours() -> int:
        return len(awaiting() - before)

    seen: list[int] = []

    async def main() -> list[int]:
        jobs = [asyncio.ensure_future(r.aget(timeout=30)) for r in handles]
        await asyncio.sleep(0.2)  # every await registered and blocked
        seen.append(ours())
        worker = _later(huey, 0.0)
        values = await asyncio.gather(*jobs)
        seen.append(ours())
        worker.join()
        awaiter = huey.storage._awaiters[asyncio.get_running_loop()]  # type: ignore[attr-defined]
        assert awaiter.client.connection_pool.max_connections == 2
        await huey.storage.aclose()
        return list(values)

    assert asyncio.run(main()) == list(range(1000))
    assert max(seen) <= 2, seen
