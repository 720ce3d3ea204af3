"""The consumer: a dispatcher loop feeding a pool of worker threads.

One loop iteration (:meth:`Consumer.step`) renews the lease, runs the recovery
sweep when due, promotes scheduled tasks and fires periodic ones, and claims as
many tasks as there are idle workers, in one round trip. Between iterations it
blocks in ``storage.wait`` until the next due time, woken early by new work.

Stopping (SIGINT/SIGTERM): claim nothing more, give running tasks up to
``shutdown_timeout`` seconds, hand back whatever is still running so another
consumer takes it at once, drop the lease, return. A second signal skips the
wait (tasks are handed back, not lost).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import StoreUnavailable
from .scheduler import Scheduler
from .storage.base import Claimed
from .worker import Worker

if TYPE_CHECKING:
    from .api import Huey

log = logging.getLogger("engine.consumer")


def make_consumer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class Consumer:
    def __init__(
        self,
        huey: Huey,
        workers: int = 1,
        worker_type: str = "thread",
        periodic: bool = True,
        utc: bool | None = None,
        scheduler_interval: float = 1.0,
        lease: float = 10.0,
        heartbeat_interval: float = 2.0,
        recovery_interval: float = 2.0,
        max_deliveries: int = 3,
        shutdown_timeout: float | None = 30.0,
        max_tasks: int | None = None,
        flush_locks: bool = False,
        extra_locks: list[str] | None = None,
        consumer_id: str | None = None,
        clock: Callable[[], float] = time.time,
        **unused: Any,
    ) -> None:
        if worker_type != "thread":
            raise ValueError(f"worker type {worker_type!r} is not supported yet: use 'thread'")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.huey = huey
        self.workers = workers
        self.worker_type = worker_type
        self.lease = lease
        self.heartbeat_interval = heartbeat_interval
        self.recovery_interval = recovery_interval
        self.max_deliveries = max_deliveries
        self.shutdown_timeout = shutdown_timeout
        self.max_tasks = max_tasks
        self.clock = clock
        self.consumer_id = consumer_id or make_consumer_id()
        self.scheduler = Scheduler(huey, periodic=periodic, utc=utc, interval=scheduler_interval)
        self.worker = Worker(huey, self.consumer_id, lease=lease, clock=clock)
        self.started_at = clock()
        self._inbox: queue.Queue[Claimed | None] = queue.Queue()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._next_heartbeat = 0.0
        self._next_recovery = 0.0
        self._claimed_total = 0
        self._store_down_since: float | None = None
        if flush_locks or extra_locks:
            flushed = huey.flush_locks(*(extra_locks or []))
            if flush_locks and extra_locks:
                flushed += huey.flush_locks()
            if flushed:
                log.info("flushed locks: %s", ", ".join(flushed))

    # --- worker threads -----------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            try:
                self.worker.run(item)
            except StoreUnavailable as exc:
                # The task stays running in the store; recovery hands it to someone.
                log.error("could not commit task %s: %s", item.id, exc)
            except Exception:
                log.exception("unexpected error running task %s", item.id)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def start(self) -> None:
        self.huey.run_hooks("startup")
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"worker-{i + 1}", daemon=True)
            t.start()
            self._threads.append(t)

    @property
    def idle(self) -> int:
        with self._busy_lock:
            return self.workers - self._busy

    # --- one iteration -------------------------------------------------------------
    def step(self, now: float) -> float:
        """One dispatcher round; returns how long the loop may wait before the next."""
        storage = self.huey.storage
        if now >= self._next_heartbeat:
            storage.heartbeat(self.consumer_id, now, self.lease)
            self._next_heartbeat = now + self.heartbeat_interval
        if now >= self._next_recovery:
            report = storage.recover(now, self.max_deliveries)
            if report.requeued or report.dead:
                log.warning(
                    "recovered tasks of lapsed consumers: %d requeued, %d dead-lettered (poison)",
                    len(report.requeued),
                    len(report.dead),
                )
            self._next_recovery = now + self.recovery_interval
        wait = self.scheduler.step(now)
        free = self.idle
        if self.max_tasks is not None:
            free = min(free, self.max_tasks - self._claimed_total)
        if free <= 0:
            return min(wait, 0.05)
        claimed = storage.claim(self.consumer_id, now, free, self.lease)
        if claimed:
            self._next_heartbeat = now + self.heartbeat_interval  # claim renewed the lease
            self._claimed_total += len(claimed)
            with self._busy_lock:
                self._busy += len(claimed)
            for item in claimed:
                self._inbox.put(item)
            return 0.0
        wait = min(wait, self._next_heartbeat - now, self._next_recovery - now)
        return max(0.0, wait)

    def _done(self) -> bool:
        return (
            self.max_tasks is not None
            and self._claimed_total >= self.max_tasks
            and not (self.workers - self.idle)
        )

    def loop(self) -> None:
        """Run until stop() is called (or ``max_tasks`` were run)."""
        while not self._stop.is_set() and not self._done():
            try:
                wait = self.step(self.clock())
                if self._store_down_since is not None:
                    log.warning(
                        "store reachable again after %.1fs", time.time() - self._store_down_since
                    )
                    self._store_down_since = None
            except StoreUnavailable as exc:
                if self._store_down_since is None:
                    self._store_down_since = time.time()
                    log.error("%s; retrying", exc)
                down = time.time() - self._store_down_since
                self._stop.wait(min(5.0, 0.1 * 2 ** min(down, 6)))
                continue
            if wait <= 0:
                continue
            if self.idle <= 0:
                self._stop.wait(min(wait, 0.05))
                continue
            try:
                self.huey.storage.wait(wait)
            except StoreUnavailable:
                pass

    def run(self) -> None:
        """Start workers, install signal handlers, loop, and shut down cleanly."""
        self.start()
        self._install_signals()
        try:
            self.loop()
        finally:
            self.shutdown()

    def stop(self, graceful: bool = True) -> None:
        if self._stop.is_set() or not graceful:
            self._hurry.set()
        self._stop.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def shutdown(self) -> None:
        """Let running tasks finish (up to shutdown_timeout), hand back the rest."""
        self._stop.set()
        deadline = None if self.shutdown_timeout is None else time.time() + self.shutdown_timeout
        while self.idle < self.workers and not self._hurry.is_set():
            if deadline is not None and time.time() >= deadline:
                break
            self._hurry.wait(0.05)
        for _ in self._threads:
            self._inbox.put(None)
        try:
            handed = self.huey.storage.release(self.consumer_id)
            if handed:
                log.warning("handed back %d unfinished task(s): %s", len(handed), ", ".join(handed))
        except StoreUnavailable as exc:
            log.error("could not hand back tasks (they will be recovered): %s", exc)
        try:
            self.huey.run_hooks("shutdown")
        except Exception:
            log.exception("shutdown hook failed")
