"""The application of the asyncio benchmarks (``benchmarks/aget.py``,
``benchmarks/async_sleep.py``): consumers load it as ``benchmarks.async_app.huey``, on
the Redis at ``BENCH_REDIS_URL``, queue ``BENCH_QUEUE`` (default ``abench``)."""

from __future__ import annotations

import asyncio
import os
import time

from engine import RedisHuey

huey = RedisHuey(
    os.environ.get("BENCH_QUEUE", "abench"),
    url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
)


@huey.task(name="finished_at")
def finished_at(i: int) -> float:
    """When the task returned (epoch seconds): its result lands one commit later."""
    return time.time()


@huey.task(name="nap")
async def nap(seconds: float) -> float:
    """An I/O-bound task: awaits ``seconds``, returns when it ended."""
    await asyncio.sleep(seconds)
    return time.time()
