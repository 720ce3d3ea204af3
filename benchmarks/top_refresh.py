"""How long one refresh of ``hueyctl top`` takes with a million pending tasks on Redis.

    python -m benchmarks.top_refresh                 # 1,000,000 tasks, db 15 of 127.0.0.1
    python -m benchmarks.top_refresh --tasks 100000 --url redis://host:6379/15

It fills its own queue (``top-bench-<random>``) with ``enqueue_many`` in batches
of 10,000, then times exactly what each refresh of the dashboard reads
(``hueyctl.tui.data.fetch``: overview, per-task counters, the active tab's first
page, new events, revocations) for every tab and for filtered listings, and
checks that memory stays flat over many refreshes. It prints numbers; nothing
is asserted. The queue is deleted afterwards (``huey.flush()``), even on Ctrl-C.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
import tracemalloc
import uuid

from engine import RedisHuey
from engine.inspect import Inspector
from hueyctl.tui.data import TABS, Filter, Query, fetch

BATCH = 10_000


def fill(huey: RedisHuey, n: int) -> float:
    noop = huey.registered("bench.noop")
    assert noop is not None
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        huey.enqueue_many(noop.s(i, payload="x" * 16) for i in range(start, min(n, start + BATCH)))
        if (start // BATCH) % 10 == 9:
            print(f"  enqueued {start + BATCH:>9,}", file=sys.stderr, flush=True)
    return time.perf_counter() - started


def timed(inspector: Inspector, query: Query, repeats: int) -> list[float]:
    times = []
    after: str | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        snap = fetch(inspector, query, after)
        times.append(time.perf_counter() - started)
        after = snap.events[-1].id if snap.events else after
    return times


def report(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"  {label:<34} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms"
        f"   max {ms[-1]:7.1f} ms"
    )


def memory(inspector: Inspector, refreshes: int) -> tuple[float, float, float]:
    """Traced memory (MiB) after 10 refreshes, after ``refreshes`` more, and the peak."""
    gc.collect()
    tracemalloc.start()
    timed(inspector, Query("pending"), 10)
    gc.collect()
    warm = tracemalloc.get_traced_memory()[0]
    timed(inspector, Query("pending"), refreshes)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return warm / 2**20, current / 2**20, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--url",
        default=os.environ.get("HUEYCTL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    args = parser.parse_args()

    huey = RedisHuey(f"top-bench-{uuid.uuid4().hex[:8]}", url=args.url)

    @huey.task(name="bench.noop")
    def noop(i: int, payload: str = "") -> None: ...

    inspector = Inspector(huey)
    try:
        print(f"queue {huey.name} on {huey.storage.describe()}")
        took = fill(huey, args.tasks)
        counts = huey.storage.counts()
        print(
            f"enqueued {counts.ready:,} tasks in {took:.1f} s "
            f"({counts.ready / took:,.0f}/s, enqueue_many batches of {BATCH:,})"
        )
        print(f"refresh (hueyctl.tui.data.fetch), {args.repeats} times each:")
        for tab in TABS:
            report(f"tab {tab}", timed(inspector, Query(tab), args.repeats))
        every = Filter("task:noop")  # matches every task: one page of 200 is enough
        report("pending, filter matching all", timed(inspector, Query("pending", every), 5))
        none = Filter("task:nothing-matches")  # scans the budget (10,000 tasks) and stops
        report("pending, filter matching none", timed(inspector, Query("pending", none), 5))
        first = inspector.pending(0, 1)[0].id
        exact = Filter(first)  # a whole id: one O(1) lookup
        report("pending, filter by a whole id", timed(inspector, Query("pending", exact), 5))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        warm, after, peak = memory(inspector, 200)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"process max RSS: {rss_before:.0f} MiB before the 210 refreshes, {rss_after:.0f} after"
        )
        print(
            f"memory (tracemalloc) over 200 refreshes of the Pending tab: "
            f"{warm:.2f} MiB after 10, {after:.2f} MiB after 210, peak {peak:.2f} MiB"
        )
    finally:
        started = time.perf_counter()
        huey.flush()
        print(f"flushed the queue in {time.perf_counter() - started:.1f} s")
        huey.storage.close()


if __name__ == "__main__":
    main()
