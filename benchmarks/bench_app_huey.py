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
    huey = RedisHuey(queue, url=redis_url, notify_result=notify_result)

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
