"""``await res.aget()`` against a real worker: latency, and Redis commands per await.

    .venv/bin/python -m benchmarks.aget [N]          # N awaits per phase, default 1000

Starts a private redis-server and ``hueyctl worker benchmarks.async_app.huey -w 4``,
then, with N tasks per phase (each returns ``time.time()`` when it finishes):

1. **one at a time**: enqueue, await; and the same with the synchronous
   ``get(blocking=True)``. Printed: end to end (enqueue to value) and *landing*
   (the task's return to the await's return: the worker's commit plus the wake-up),
   median and p99.
2. **N at once**: N tasks enqueued with ``map()``, N awaits started together on one
   loop. Printed: landing median/p99, the connections the awaits used, and the
   Redis commands per await, two ways: counted by the awaiter itself, and from
   ``INFO commandstats`` (the server's calls of each command during the phase minus
   those of the same drain with nobody awaiting, divided by N; commandstats also
   counts the commands run inside scripts, listed apart).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def show(label: str, xs: list[float]) -> None:
    print(
        f"  {label:<34} median {statistics.median(xs) * 1e3:7.2f} ms"
        f"   p99 {pct(xs, 99) * 1e3:7.2f} ms"
    )


def commandstats(client: redis.Redis) -> dict[str, int]:
    return {k: int(v["calls"]) for k, v in client.info("commandstats").items()}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def start_worker(url: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BENCH_REDIS_URL=url, PYTHONPATH=str(ROOT))
    log = (tmp / "worker.log").open("wb")
    argv = [sys.executable, "-m", "hueyctl", "worker", "benchmarks.async_app.huey", "-w", "4", "-q"]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def one_at_a_time(app: Any, n: int) -> tuple[list[float], list[float]]:
    e2e, land = [], []
    for i in range(n):
        t0 = time.time()
        done_at = await app.finished_at(i).aget(timeout=30)
        t1 = time.time()
        e2e.append(t1 - t0)
        land.append(t1 - done_at)
    await app.huey.storage.aclose()
    return e2e, land


def one_at_a_time_sync(app: Any, n: int) -> tuple[list[float], list[float]]:
    e2e, land = [], []
    for i in range(n):
        t0 = time.time()
        done_at = app.finished_at(i).get(blocking=True, timeout=30)
        t1 = time.time()
        e2e.append(t1 - t0)
        land.append(t1 - done_at)
    return e2e, land


async def at_once(app: Any, n: int, server: redis.Redis) -> tuple[list[float], int, Any]:
    # Scheduled 1 s ahead in one round trip, so every await has registered before the
    # first result lands (the worker's scheduler makes them ready at once, on time).
    handles = list(app.huey.enqueue_many([app.finished_at.s(i, delay=1.0) for i in range(n)]))
    land: list[float] = []
    peak = 0

    async def one(r: Any) -> None:
        done_at = await r.aget(timeout=60)
        land.append(time.time() - done_at)

    jobs = [asyncio.ensure_future(one(r)) for r in handles]
    while not all(j.done() for j in jobs):
        peak = max(peak, sum(1 for c in server.client_list() if c.get("name") == "hueyctl:await"))
        await asyncio.sleep(0.05)
    await asyncio.gather(*jobs)
    awaiter = app.huey.storage._awaiters[asyncio.get_running_loop()]
    await app.huey.storage.aclose()
    return land, peak, awaiter


def drain_unawaited(app: Any, n: int) -> None:
    """The same drain as ``at_once`` with nobody awaiting (the commands' baseline)."""
    app.huey.enqueue_many([app.finished_at.s(i, delay=1.0) for i in range(n)])
    while _left(app):
        time.sleep(0.05)


def _left(app: Any) -> int:
    c = app.huey.storage.counts()
    return int(c.ready + c.running + c.scheduled)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 1000
    with RedisServer(None) as srv, tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_REDIS_URL"] = srv.url
        from . import async_app as app

        server = srv.client()
        worker = start_worker(srv.url, Path(tmp))
        try:
            app.finished_at(0).get(blocking=True, timeout=30)  # the worker is up
            print(
                f"aget benchmark: {n} awaits per phase, worker -w 4 (threads),"
                f" Redis {srv.version()}"
            )
            print("1. one at a time")
            e2e, land = asyncio.run(one_at_a_time(app, n))
            s_e2e, s_land = one_at_a_time_sync(app, n)
            show("await res.aget()   end to end", e2e)
            show("res.get(blocking)  end to end", s_e2e)
            show("await res.aget()   landing", land)
            show("res.get(blocking)  landing", s_land)

            print(f"2. {n} at once on one loop")
            time.sleep(0.5)
            before = commandstats(server)  # (the baseline drain: nobody awaits)
            drain_unawaited(app, n)
            base = delta(commandstats(server), before)

            async def phase() -> tuple[list[float], int, Any, dict[str, int]]:
                before = commandstats(server)
                land, peak, awaiter = await at_once(app, n, server)
                return land, peak, awaiter, delta(commandstats(server), before)

            land, peak, awaiter, with_awaits = asyncio.run(phase())
            show("await res.aget()   landing", land)
            print(f"  connections the awaits used, at most: {peak} (pool size 2)")
            print(
                f"  commands per await, counted by the awaiter: {awaiter.commands / n:.2f}"
                f" ({awaiter.round_trips} round trips for {n} awaits)"
            )
            # INFO commandstats counts the commands scripts run too: the top-level ones an
            # await sends are EVALSHA (look), BLPOP and LPOP (listener), SET (a restore).
            extra = {
                k.removeprefix("cmdstat_"): with_awaits.get(k, 0) - base.get(k, 0)
                for k in set(with_awaits) | set(base)
            }
            top = {k: extra.get(k, 0) for k in ("evalsha", "blpop", "lpop")}
            inner = {k: v for k, v in extra.items() if k not in top and abs(v) >= n // 20}
            print(
                "  top-level commands per await, INFO commandstats (vs the same drain"
                " unawaited): " + ", ".join(f"{k} {v / n:+.2f}" for k, v in top.items())
            )
            print(
                "    and run inside scripts, or by the worker: "
                + ", ".join(f"{k} {v / n:+.2f}" for k, v in sorted(inner.items()))
            )
        finally:
            worker.terminate()
            worker.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
