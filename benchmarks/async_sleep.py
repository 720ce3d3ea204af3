"""I/O-bound ``async def`` tasks on the asyncio worker, beside thread workers.

    .venv/bin/python -m benchmarks.async_sleep [N] [--thread-n M]

N tasks (default 10,000) that each ``await asyncio.sleep(0.05)`` are enqueued with
``map()`` on a private redis-server, then one ``hueyctl worker -k asyncio -w 200``
drains them; timed from its first claim to the last result (worker start-up is not
counted). The same task on ``-k thread -w 4`` runs one coroutine per thread at a
time, so it is given M tasks (default N/10; ``--thread-n N`` for all of them) and its
time for N is extrapolated from its rate (printed as such). Target: N=10,000 under 8 s
on ``-k asyncio -w 200`` (the floor is 10,000 × 0.05 s / 200 = 2.5 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
NAP = 0.05


def drain(url: str, tmp: Path, n: int, worker_args: list[str]) -> float:
    """Seconds the worker took from its first claim until all ``n`` were finished."""
    from . import async_app as app

    app.huey.flush()
    app.nap.map([NAP] * n)
    storage = app.huey.storage
    env = dict(os.environ, BENCH_REDIS_URL=url, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "hueyctl", "worker", "benchmarks.async_app.huey", "-q"]
    log = (tmp / f"worker-{worker_args[1]}.log").open("wb")
    proc = subprocess.Popen(
        [*argv, *worker_args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        while storage.counts().ready >= n:  # until the first claim
            if proc.poll() is not None:
                raise RuntimeError((tmp / f"worker-{worker_args[1]}.log").read_text())
            time.sleep(0.002)
        t0 = time.monotonic()
        while True:
            c = storage.counts()
            if c.ready + c.running + c.scheduled == 0:
                break
            time.sleep(0.02)  # (a light poll: the box is shared with the worker)
        took = time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(30)
    done = len(storage.keys("result:"))
    if done != n:
        raise RuntimeError(f"{done} results for {n} tasks")
    return took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.async_sleep")
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--thread-n", type=int, default=None)
    args = parser.parse_args(argv)
    n, m = args.n, args.thread_n or max(1, args.n // 10)
    with RedisServer(None) as srv, tempfile.TemporaryDirectory() as tmp:
        os.environ["BENCH_REDIS_URL"] = srv.url
        print(f"{n} tasks of 'await asyncio.sleep({NAP})', Redis {srv.version()}")
        took = drain(srv.url, Path(tmp), n, ["-k", "asyncio", "-w", "200"])
        floor = n * NAP / 200
        verdict = "met" if took < 8 * n / 10_000 else "NOT met"
        print(
            f"  -k asyncio -w 200: {took:6.2f} s  ({n / took:7.0f} tasks/s; floor {floor:.2f} s;"
            f" target < {8 * n / 10_000:.1f} s {verdict})"
        )
        took_t = drain(srv.url, Path(tmp), m, ["-k", "thread", "-w", "4"])
        what = "measured" if m == n else f"extrapolated from {m} tasks in {took_t:.2f} s"
        print(f"  -k thread  -w 4:   {took_t * n / m:6.2f} s  ({m / took_t:7.0f} tasks/s; {what})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
