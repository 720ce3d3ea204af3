"""A consumer that stops with a call still running hands it back and, as huey's
consumer does, sends SIGNAL_INTERRUPTED for it (``Huey.notify_interrupted_tasks``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from engine import SIGNAL_INTERRUPTED, MemoryHuey
from engine.consumer import Consumer


def _wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_stopping_with_a_call_running_signals_it_interrupted() -> None:
    h = MemoryHuey("interrupted")
    release = threading.Event()
    seen: list[tuple[str, str]] = []

    @h.task()
    def slow() -> None:
        release.wait(10)

    @h.signal(SIGNAL_INTERRUPTED)
    def record(signal: str, task: Any) -> None:
        seen.append((signal, task.id))

    res = slow()
    consumer = Consumer(h, workers=1, shutdown_timeout=0.1, heartbeat_interval=0.05)
    runner = threading.Thread(target=consumer.run)
    runner.start()
    try:
        _wait_for(lambda: res.id in h.in_flight)
        consumer.stop()
        runner.join(10)
        assert not runner.is_alive()
        assert seen == [(SIGNAL_INTERRUPTED, res.id)]
        assert h.pending_count() == 1  # handed back: it runs again
    finally:
        release.set()
        runner.join(10)
