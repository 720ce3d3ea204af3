"""Process workers: a supervisor with one consumer per child process.

Each child is a complete consumer (its own id, lease, heartbeat and scheduler)
that runs one task at a time on its main thread, so ``timeout=`` is enforced
with SIGALRM. The supervisor turns SIGTERM/SIGINT/SIGHUP into SIGTERM for the
children (each finishes its running task, then exits; a second signal kills
them, and their tasks are recovered once their leases lapse), replaces a child
that dies (its task is recovered by a sibling), and exits when all have stopped.

Cancel (``hueyctl cancel``): the child running the call interrupts it itself (see
``engine.consumer``); a call that has not stopped ``cancel_grace`` seconds after the
request (code that never returns to Python holds the GIL, so the child cannot even
see the request) is ended here: the child is killed (SIGKILL), the call committed as
cancelled on its behalf, and another child started.

Runtime floor: works on a :class:`~engine.core.QueueCore` and runs
:class:`~engine.consumer.Consumer` in each child.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

from .consumer import Consumer, ConsumerSettings
from .core import QueueCore
from .exceptions import CodecError, EngineError
from .executor import Executor
from .keys import CANCELS
from .telemetry import Telemetry

log = logging.getLogger("huey.supervisor")
_DEFAULTS = ConsumerSettings()  # the default health-check interval lives there


def _child(huey: QueueCore, options: dict[str, Any], pulse: Any = None) -> None:
    # Until the consumer installs its own handlers, a stop request simply ends us (we
    # hold no task yet); the supervisor's handlers must not run in a child.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches us via the supervisor
    huey.storage = huey.create_storage()  # never share the parent's connections
    consumer = Consumer(huey, inline=True, worker_type="process", **options)
    if pulse is not None:  # shared memory: the supervisor's liveness probe reads it

        def beat() -> None:
            pulse.value = time.monotonic()

        consumer.on_beat = beat
    consumer.run()


class Supervisor:
    def __init__(
        self,
        huey: QueueCore,
        processes: int,
        check_interval: float = _DEFAULTS.health_check_interval,
        **options: Any,
    ) -> None:
        self.huey = huey
        self.check_interval = check_interval
        self.processes = self.workers = processes
        self.options = options
        self.restart = False
        self._stopping = 0
        self._ctx = multiprocessing.get_context("fork")
        self._children: list[BaseProcess] = []
        self.cancel_grace = float(options.get("cancel_grace", _DEFAULTS.cancel_grace))
        self._cancels: dict[str, float] = {}  # task id -> when first seen (monotonic)
        # Per child slot: time.monotonic() of its last heartbeat (CLOCK_MONOTONIC is
        # system-wide, so a child's reading compares with ours).
        self._pulses: list[Any] = []
        self.lease = float(options.get("lease", _DEFAULTS.lease))

    def _spawn(self, slot: int) -> BaseProcess:
        pulse = self._pulses[slot]
        pulse.value = time.monotonic()  # a new child gets a lease's time to beat
        child = self._ctx.Process(
            target=_child, args=(self.huey, self.options, pulse), daemon=False
        )
        child.start()
        return child

    def liveness(self, grace: float | None = None) -> str | None:
        """Why the worker processes are not alive, in one line; None when every child
        runs and beat within the lease (``grace`` seconds). A dead child is replaced
        within the check interval, so it counts only once that is overdue."""
        grace = self.lease if grace is None else grace
        if self._stopping:
            return "stopping"
        if not self._children:
            return "no worker process started yet"
        now = time.monotonic()
        for child, pulse in zip(self._children, self._pulses, strict=True):
            quiet = now - pulse.value
            if quiet > grace:
                state = "alive" if child.is_alive() else f"exited ({child.exitcode})"
                return f"worker process {child.pid} ({state}) has not beaten for {quiet:.0f}s"
        return None

    def _signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            self.restart = True
        self._stopping += 1
        # First signal: each child finishes its task (or hands it back) and exits. A
        # second one kills them: a task cut short is recovered once its lease lapses.
        sig = signal.SIGTERM if self._stopping == 1 else signal.SIGKILL
        for child in self._children:
            if child.is_alive() and child.pid:
                os.kill(child.pid, sig)

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._signal)
        self._pulses = [self._ctx.Value("d", 0.0, lock=False) for _ in range(self.processes)]
        self._children = [self._spawn(i) for i in range(self.processes)]
        while True:
            alive = [c for c in self._children if c.is_alive()]
            if self._stopping and not alive:
                return
            if not self._stopping:
                self._end_stuck_cancels()
                for i, child in enumerate(self._children):
                    if not child.is_alive():
                        log.error(
                            "worker process %s exited (%s); starting another",
                            child.pid,
                            child.exitcode,
                        )
                        self._children[i] = self._spawn(i)
            pause = self.check_interval
            if self._stopping or self._cancels:
                pause = min(pause, 0.5)
            time.sleep(pause)

    # --- cancel: a call that does not stop --------------------------------------------------
    def _end_stuck_cancels(self) -> None:
        """Kill the child whose cancelled call has run on ``cancel_grace`` seconds after
        the request, and end the call as cancelled. One map read per check when idle."""
        storage = self.huey.storage
        try:
            requests = storage.map_items(CANCELS)
            running = {r.id: r for r in storage.running_items()} if requests else {}
        except EngineError as exc:
            log.warning("could not read cancel requests: %s", exc)
            return
        ours = {c.pid: c for c in self._children if c.pid and c.is_alive()}
        now = time.monotonic()
        for task_id in list(self._cancels):
            if task_id not in requests:
                del self._cancels[task_id]
        for task_id in requests:
            entry = running.get(task_id)
            pid = _pid_of(entry.consumer) if entry is not None else None
            if entry is None or pid not in ours:
                self._cancels.pop(task_id, None)
                continue
            first = self._cancels.setdefault(task_id, now)
            if now - first >= self.cancel_grace:
                self._kill_for(ours[pid], entry.consumer, task_id, entry.data)
                self._cancels.pop(task_id, None)

    def _kill_for(self, child: BaseProcess, consumer: str, task_id: str, data: bytes) -> None:
        log.error(
            "task %s did not stop within %gs of its cancel: killing worker process %s",
            task_id,
            self.cancel_grace,
            child.pid,
        )
        if child.pid:
            os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        try:
            task = self.huey.envelope.decode(data, task_id)
        except CodecError:
            return
        # The child is dead: its lease is renewed on its behalf so the call ends as
        # cancelled (rather than being recovered and run again).
        storage = self.huey.storage
        lease = self.lease
        telemetry = Telemetry(self.huey, consumer)
        telemetry.attach()
        try:
            storage.heartbeat(consumer, time.time(), lease)
            task.cancelled, task.cancelled_by = True, _who(storage.map_get(CANCELS, task_id))
            Executor(self.huey, consumer, lease=lease).end_cancelled(task, data)
            storage.map_delete(CANCELS, task_id)
            telemetry.flush()
        except EngineError as exc:
            log.error("could not end cancelled task %s (it is recovered): %s", task_id, exc)
        finally:
            telemetry.detach()


def _pid_of(consumer: str) -> int | None:
    """The pid in a consumer id ``host:pid:random`` of this host, else None."""
    host, _, rest = consumer.rpartition(":")[0].rpartition(":")
    if host != socket.gethostname():
        return None
    try:
        return int(rest)
    except ValueError:
        return None


def _who(record: bytes | None) -> str:
    """Who asked, from a cancel record."""
    try:
        return str(json.loads(record or b"{}").get("who", ""))
    except (ValueError, AttributeError, RecursionError):
        return ""
