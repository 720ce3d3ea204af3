"""Where a call + blocking get (W5) spends its time, across the producer and a thread worker.

    PYTHONPATH=. python -m benchmarks.handoff --url redis://127.0.0.1:6379/15 [-n 2000]

Runs on the database of ``--url``, which it FLUSHes (use a database of your own).
Starts a consumer (``-w 4`` threads, as the suite's) in a child process whose engine
methods are wrapped to stamp ``time.perf_counter()`` (CLOCK_MONOTONIC, one clock for
every process of the machine) at each step of each task, makes ``-n`` sequential
``noop(i, "x").get(blocking=True)`` calls here, stops the consumer and prints the
median of each step, in µs:

* ``enqueue``: the producer's call (build, encode, the enqueue round trip);
* ``enqueued -> claimed``: the worker's wake (BLPOP) and claim round, reply parsed;
* ``claimed -> started``: handing the task from the claiming thread to a task thread;
* ``started -> submitted``: decode, run, encode the outcome (the task's own Python);
* ``submitted -> sent``: handing the outcome to the committer thread;
* ``sent -> acknowledged``: the finish round trip (results written, waiter woken);
* ``enqueued -> result read``: what the producer waited, and the whole call.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

QUEUE = "handoff"


def _worker(url: str, out: str, workers: int) -> None:
    from engine.consumer import Consumer
    from engine.executor import Committer, Executor
    from engine.storage.redis import RedisStorage

    from . import bench_app

    marks: dict[str, dict[str, float]] = collections.defaultdict(dict)

    def mark(task_id: str, what: str) -> None:
        marks[task_id].setdefault(what, time.perf_counter())

    def claimed(method: Any) -> Any:
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            rnd = method(self, *args, **kwargs)
            for item in rnd.claimed:
                mark(item.id, "claimed")
            return rnd

        return wrapped

    for name in ("wait_and_claim_round", "claim_round"):
        setattr(RedisStorage, name, claimed(getattr(RedisStorage, name)))
    run, submit, commit = Executor.run, Committer.submit, Committer._commit

    def marked_run(self: Any, item: Any, done: Any = None) -> Any:
        mark(item.id, "started")
        return run(self, item, done)

    def marked_submit(self: Any, task_id: str, *args: Any) -> None:
        mark(task_id, "submitted")
        submit(self, task_id, *args)

    def marked_commit(self: Any, batch: list[Any]) -> Any:
        for item in batch:
            mark(item[0], "sent")
        try:
            return commit(self, batch)
        finally:
            for item in batch:
                mark(item[0], "acknowledged")

    Executor.run = marked_run  # type: ignore[method-assign]
    Committer.submit = marked_submit  # type: ignore[method-assign]
    Committer._commit = marked_commit  # type: ignore[method-assign]
    app = bench_app.build("redis", redis_url=url, queue=QUEUE)
    Consumer(app.huey, workers=workers, periodic=False).run()
    Path(out).write_text(json.dumps(marks))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.handoff")
    p.add_argument("--url", required=True, help="a Redis database of your own (it is flushed)")
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("-w", "--workers", type=int, default=4)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker_out:
        _worker(args.url, args.worker_out, args.workers)
        return 0
    from . import bench_app

    redis.Redis.from_url(args.url).flushdb()
    app = bench_app.build("redis", redis_url=args.url, queue=QUEUE)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "marks.json")
        argv = [sys.executable, "-m", "benchmarks.handoff", "--url", args.url]
        argv += ["-w", str(args.workers), "--worker-out", out]
        child = subprocess.Popen(argv)
        try:
            app.noop(-1, "x").get(blocking=True, timeout=30)  # the worker is up
            mine: dict[str, tuple[float, float, float]] = {}
            for i in range(args.n):
                t0 = time.perf_counter()
                res = app.noop(i, "x")
                t1 = time.perf_counter()
                res.get(blocking=True, timeout=10)
                mine[res.id] = (t0, t1, time.perf_counter())
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(30)
        marks = json.loads(Path(out).read_text())
    steps: dict[str, list[float]] = collections.defaultdict(list)
    for task_id, (t0, t1, t2) in mine.items():
        m = marks.get(task_id, {})
        points = [("enqueued", t1), *((k, m[k]) for k in _ORDER if k in m), ("result read", t2)]
        steps["enqueue"].append(t1 - t0)
        for (a, ta), (b, tb) in zip(points, points[1:], strict=False):
            steps[f"{a} -> {b}"].append(tb - ta)
        steps["enqueued -> result read"].append(t2 - t1)
        steps["whole call"].append(t2 - t0)
    print(f"{len(mine):,} calls, median (p90) µs:")
    for name, values in steps.items():
        values.sort()
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"  {name:28} {statistics.median(values) * 1e6:8.1f}  ({p90 * 1e6:.1f})")
    return 0


_ORDER = ("claimed", "started", "submitted", "sent", "acknowledged")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
