"""What ``/healthz`` of ``hueyctl worker --health-port`` reads (issue 14): a consumer
is alive while its heartbeat thread and its dispatcher loop run; a store that fails
does not make it dead (that is readiness)."""

from __future__ import annotations

import time

from engine import MemoryHuey
from engine.consumer import Consumer
from engine.supervisor import Supervisor


def test_a_consumer_is_alive_until_its_heartbeat_or_its_loop_stalls() -> None:
    consumer = Consumer(MemoryHuey("live"), lease=10.0, heartbeat_interval=1.0)
    assert consumer.liveness() is None
    consumer.last_beat = time.monotonic() - 11
    assert (consumer.liveness() or "").startswith("the heartbeat has not run for 11s")
    consumer.last_beat = time.monotonic()
    consumer.step(time.time(), block=0.0)  # a round begun now
    assert consumer.liveness() is None
    consumer.last_round = time.monotonic() - 12
    assert (consumer.liveness() or "").startswith("the dispatcher loop has not run")
    consumer.stop()
    assert consumer.liveness() == "stopping"


def test_a_round_that_waits_in_the_store_is_not_a_stall() -> None:
    consumer = Consumer(MemoryHuey("live"), lease=10.0, heartbeat_interval=1.0)
    consumer._round_block = 30.0  # the round asked the store to wait up to 30 s
    consumer.last_round = time.monotonic() - 35
    assert consumer.liveness() is None


def test_a_supervisor_without_children_is_not_alive() -> None:
    sup = Supervisor(MemoryHuey("live"), 2, lease=5.0)
    assert sup.liveness() == "no worker process started yet"
