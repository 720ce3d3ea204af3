"""The benchmark application on our engine.

Consumers load it as ``benchmarks.bench_app.huey``; the store and queue come from
the environment the suite sets (``BENCH_STORE`` = ``redis`` | ``sqlite``,
``BENCH_REDIS_URL``, ``BENCH_SQLITE``, ``BENCH_QUEUE``). The suite calls
:func:`build` itself, so producer and consumers register the same tasks.
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from engine import RedisHuey, SqliteHuey
from engine.api import Huey

QUEUE = "bench"


class App(NamedTuple):
    huey: Huey
    noop: Any  # noop(i, payload) -> True: a no-op task with small arguments
    stamp: Any  # stamp(t) -> time.time() - t, measured when the task starts


def build(
    store: str, redis_url: str | None = None, sqlite_path: str | None = None, queue: str = QUEUE
) -> App:
    huey: Huey
    if store == "redis":
        huey = RedisHuey(queue, url=redis_url)
    elif store == "sqlite":
        huey = SqliteHuey(queue, filename=sqlite_path or "bench.db")
    else:
        raise ValueError(f"unknown store {store!r}")

    @huey.task(name="noop")
    def noop(i: int, payload: str) -> bool:
        return True

    @huey.task(name="stamp")
    def stamp(t: float) -> float:
        return time.time() - t

    return App(huey, noop, stamp)


def swap_json(name: str) -> None:
    """Measurement only (benchmarks/codec_speed.py's question, on a real worker): the
    engine's JSON layer (canonical_json, json.loads) replaced by orjson or msgspec."""
    import json

    import engine.core
    import engine.envelope

    if name == "orjson":
        import orjson

        def dumps(obj: Any) -> bytes:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)

        loads = orjson.loads
    elif name == "msgspec":
        import msgspec

        dumps, loads = msgspec.json.Encoder(order="sorted").encode, msgspec.json.decode
    else:
        raise ValueError(f"unknown BENCH_JSON {name!r}")
    engine.envelope.canonical_json = engine.core.canonical_json = dumps  # type: ignore[assignment]
    json.loads = loads  # type: ignore[assignment]


if os.environ.get("BENCH_JSON"):
    swap_json(os.environ["BENCH_JSON"])

if os.environ.get("BENCH_STORE"):
    huey = build(
        os.environ["BENCH_STORE"],
        os.environ.get("BENCH_REDIS_URL"),
        os.environ.get("BENCH_SQLITE"),
        os.environ.get("BENCH_QUEUE", QUEUE),
    ).huey
