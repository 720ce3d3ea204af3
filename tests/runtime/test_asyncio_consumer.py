"""The asyncio worker in this process (``Consumer(worker_type="asyncio")``) on memory:
coroutines and plain tasks side by side, the cancel hook, a stop hands back what
still runs, and the settings it refuses."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.procs import wait_for

from engine import ConfigurationError, MemoryHuey, TaskException
from engine.api import Huey
from engine.consumer import Consumer


@pytest.fixture
def huey() -> Huey:
    return MemoryHuey(f"asyncio-consumer-{time.monotonic_ns()}")


@pytest.fixture
def running(huey: Huey) -> Iterator[Consumer]:
    consumer = Consumer(
        huey,
        worker_type="asyncio",
        workers=50,
        heartbeat_interval=0.2,
        lease=5,
        shutdown_timeout=0.2,
    )
    thread = threading.Thread(target=consumer.loop, daemon=True)
    consumer.start()
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(5)
        consumer.shutdown()


@pytest.mark.slow  # a real consumer's threads; about 1 s to stop
def test_coroutines_and_plain_tasks_side_by_side(huey: Huey, running: Consumer) -> None:
    @huey.task()
    async def nap(i: int) -> str:
        await asyncio.sleep(0.05)
        return threading.current_thread().name

    @huey.task()
    def plain(i: int) -> str:
        return threading.current_thread().name

    naps = [nap(i) for i in range(100)]
    plains = [plain(i) for i in range(10)]
    assert {r.get(blocking=True, timeout=10) for r in naps} == {"asyncio-loop"}
    assert all(r.get(blocking=True, timeout=10).startswith("sync-task") for r in plains)
    assert running.runner is not None and running.runner.peak > 20


@pytest.mark.slow  # a real consumer's threads; about 1 s to stop
def test_cancel_hook_raises_cancelled_error_inside_the_task(huey: Huey, running: Consumer) -> None:
    seen: list[str] = []

    @huey.task()
    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    res = forever()
    wait_for(lambda: res.id in running.executor.running(), 5, "the task to start")
    assert running.runner is not None
    running.runner.cancel(res.id)
    with pytest.raises(TaskException) as info:
        res.get(blocking=True, timeout=5)
    assert seen == ["cancelled"]
    assert "CancelExecution" in str(info.value.metadata["error"])


@pytest.mark.slow  # a real consumer's threads; about 1 s to stop
def test_stop_hands_back_running_coroutines(huey: Huey) -> None:
    @huey.task()
    async def long() -> None:
        await asyncio.sleep(60)

    consumer = Consumer(huey, worker_type="asyncio", workers=5, shutdown_timeout=0.1)
    consumer.start()
    for _ in range(3):
        long()
    thread = threading.Thread(target=consumer.loop, daemon=True)
    thread.start()
    wait_for(lambda: len(consumer.executor.running()) == 3, 5, "3 tasks running")
    consumer.stop()
    thread.join(5)
    consumer.shutdown()
    counts = huey.storage.counts()
    assert (counts.ready, counts.running) == (3, 0)  # handed back, to run again


@pytest.mark.parametrize(
    "options",
    [{"worker_type": "asyncio", "inline": True}, {"worker_type": "gevent"}],
)
def test_refused_settings(huey: Huey, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Consumer(huey, **options)
