"""Prometheus metrics of one queue, read from what the store already keeps.

Nothing here writes, and nothing is added to a task's path: a scrape reads the
counts, the lease table, the worker registry, the head of the ready queue and
the per-minute counters consumers flush with each heartbeat (``engine.telemetry``).
One scrape costs the same few reads whatever the size of the queue (the counters
cost one read per minute re-read, at most the two hours they are kept).

Counters are this exporter's own running totals of the per-minute counters, so
they only go up while it runs; it starts from the two hours the store keeps, and
a restart of the exporter is a counter reset (``rate()`` handles it). The store
keeps a sum and a maximum of runtimes per minute, not their distribution: runtime
is a summary (``_sum`` and ``_count``, no quantiles), not a histogram. Retries are
not counted by the store, so there is no retry counter (a retried run that failed
counts as a failure).

This module imports ``prometheus_client`` (the ``metrics`` extra): commands
import it only when they serve metrics. A custom collector, never the global
registry: every exporter reads its own queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from engine.inspect import Inspector, Minute

log = logging.getLogger("hueyctl.metrics")

KEPT_MINUTES = 120  # consumers keep per-minute counters for two hours (STATS_TTL)
# Minutes re-read at every scrape: a consumer flushes a minute's counters up to a
# heartbeat after the minute ends (longer while the store is away).
REREAD_MINUTES = 3
STATES = ("ready", "scheduled", "running", "dead")


def paused(insp: Inspector) -> bool | None:
    """Whether the queue is paused now (``hueyctl pause``), from ``Inspector.paused``
    (one read of the pause record); None when the read model cannot tell, and
    ``hueyctl_queue_paused`` is left out."""
    attr = getattr(insp, "paused", None)
    if attr is None:
        return None
    value = attr() if callable(attr) else attr
    return None if value is None else bool(value)


class Tally:
    """Per-task running totals (runs, failures, runtime) of the per-minute counters:
    minutes still being written are re-read at each scrape and kept apart; older
    ones are folded into the totals once. Totals never go down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folded: dict[str, list[float]] = {}  # task -> [runs, failures, runtime sum]
        self._recent: dict[tuple[int, str], Minute] = {}
        self._read_to: int | None = None  # the newest minute read by the last scrape

    def since(self, now: float) -> int:
        """The first minute the next read must cover."""
        now_minute = int(now // 60) * 60
        oldest = now_minute - (KEPT_MINUTES - 1) * 60
        if self._read_to is None:
            return oldest
        return max(oldest, min(self._read_to, now_minute) - REREAD_MINUTES * 60)

    def update(self, rows: dict[str, list[Minute]], now: float) -> None:
        """Take a read of the counters from :meth:`since` on."""
        now_minute = int(now // 60) * 60
        with self._lock:
            for task, minutes in rows.items():
                for m in minutes:
                    seen = self._recent.get((m.minute, task))
                    if seen is None or m.count >= seen.count:
                        self._recent[(m.minute, task)] = m
            keep_from = now_minute - REREAD_MINUTES * 60
            for key in [k for k in self._recent if k[0] < keep_from]:
                m = self._recent.pop(key)
                acc = self._folded.setdefault(key[1], [0, 0, 0.0])
                acc[0] += m.count
                acc[1] += m.failures
                acc[2] += m.total
            self._read_to = now_minute

    def totals(self) -> dict[str, tuple[int, int, float]]:
        """Task name -> (runs, failures, runtime seconds), all so far."""
        with self._lock:
            out = {t: [a[0], a[1], a[2]] for t, a in self._folded.items()}
            for (_, task), m in self._recent.items():
                acc = out.setdefault(task, [0, 0, 0.0])
                acc[0] += m.count
                acc[1] += m.failures
                acc[2] += m.total
        return {t: (int(a[0]), int(a[1]), float(a[2])) for t, a in sorted(out.items())}


class QueueCollector(Collector):
    """The metrics of ``insp``'s queue, read at each scrape. A store that does not
    answer gives ``hueyctl_store_up 0`` (and the rest left out), never a failed scrape."""

    def __init__(self, insp: Inspector, clock: Callable[[], float] = time.time) -> None:
        self.insp = insp
        self.clock = clock
        self.tally = Tally()

    def collect(self) -> Iterator[Metric]:
        queue = self.insp.huey.name
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "hueyctl_store_up", "1 when the store answered this scrape, else 0", labels=["queue"]
        )
        try:
            families = self._read(queue)
        except Exception as exc:  # a scrape reports the store down; it never fails
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([queue], 0)
            yield up
            return
        up.add_metric([queue], 1)
        yield from families
        yield up
        took = GaugeMetricFamily(
            "hueyctl_scrape_duration_seconds",
            "Seconds this scrape spent reading the store",
            labels=["queue"],
        )
        took.add_metric([queue], time.perf_counter() - started)
        yield took

    def _read(self, queue: str) -> list[Metric]:
        """Every family but the store's: all reads happen here, before any is yielded."""
        now = self.clock()
        ov = self.insp.overview(1)
        wait = self.insp.head_wait()
        self.tally.update(self.insp.task_minutes(self.tally.since(now)), now)
        is_paused = paused(self.insp)
        out: list[Metric] = []
        tasks = GaugeMetricFamily(
            "hueyctl_queue_tasks",
            "Tasks in the queue by state (running includes those claimed ahead)",
            labels=["queue", "state"],
        )
        for state in STATES:
            tasks.add_metric([queue, state], ov.in_state(state))
        out.append(tasks)
        out.append(
            _gauge(
                "hueyctl_queue_claimed_ahead_tasks",
                "Running tasks claimed ahead by a worker and not started yet",
                queue,
                ov.claimed_ahead,
            )
        )
        out.append(
            _gauge(
                "hueyctl_queue_oldest_ready_age_seconds",
                "Seconds the next ready task has waited (0 when none is ready)",
                queue,
                wait or 0.0,
            )
        )
        out.append(
            _gauge("hueyctl_workers_alive", "Workers holding a live lease", queue, ov.workers)
        )
        if is_paused is not None:
            out.append(
                _gauge("hueyctl_queue_paused", "1 when the queue is paused", queue, is_paused)
            )
        out.extend(self._task_families(queue))
        return out

    def _task_families(self, queue: str) -> list[Metric]:
        labels = ["queue", "task"]
        runs = CounterMetricFamily(
            "hueyctl_task_runs", "Task runs finished (failures included)", labels=labels
        )
        failures = CounterMetricFamily(
            "hueyctl_task_failures", "Task runs that failed or timed out", labels=labels
        )
        runtime = SummaryMetricFamily(
            "hueyctl_task_runtime_seconds", "Runtime of finished task runs", labels=labels
        )
        for task, (count, failed, total) in self.tally.totals().items():
            runs.add_metric([queue, task], count)
            failures.add_metric([queue, task], failed)
            runtime.add_metric([queue, task], count_value=count, sum_value=total)
        return [runs, failures, runtime]


def _gauge(name: str, doc: str, queue: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["queue"])
    family.add_metric([queue], float(value))
    return family


def registry(insp: Inspector) -> CollectorRegistry:
    """A registry of its own holding the queue's collector (never the global one)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(QueueCollector(insp))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    """The text exposition format of every metric of ``reg`` (a scrape)."""
    return generate_latest(reg)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
