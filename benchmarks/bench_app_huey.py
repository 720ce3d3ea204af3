"""The same benchmark application on huey (imported only when huey is installed).

Consumers load it as ``benchmarks.bench_app_huey.huey``; ``BENCH_NOTIFY=1`` turns
on huey's ``notify_result`` (the consumer LPUSHes a token per result, a blocking
``get`` waits for it with BLPOP instead of polling).
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from huey import RedisHuey

QUEUE = "bench"


class App(NamedTuple):
    huey: Any
    noop: Any
    stamp: Any


def build(redis_url: str, notify_result: bool = False, queue: str = QUEUE) -> App:
    return _register(RedisHuey(queue, url=redis_url, notify_result=notify_result))


def build_sqlite(filename: str, queue: str = QUEUE) -> App:
    """huey's ``SqliteHuey`` with the same tasks (W6 on SQLite): the task names huey
    pickles into each message are this module's, as on Redis. ``fsync=False`` only
    makes a fill quick; it does not change what the file holds."""
    from huey import SqliteHuey

    return _register(SqliteHuey(queue, filename=filename, fsync=False))


def _register(huey: Any) -> App:
    @huey.task(name="noop")
    def noop(i: int, payload: str) -> bool:
        return True

    @huey.task(name="stamp")
    def stamp(t: float) -> float:
        return time.time() - t

    return App(huey, noop, stamp)


if os.environ.get("BENCH_REDIS_URL"):
    huey = build(
        os.environ["BENCH_REDIS_URL"],
        os.environ.get("BENCH_NOTIFY") == "1",
        os.environ.get("BENCH_QUEUE", QUEUE),
    ).huey
