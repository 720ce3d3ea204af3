"""Process workers: a supervisor with one consumer per child process.

Each child is a complete consumer (its own id, lease, heartbeat and scheduler)
that runs one task at a time on its main thread, so ``timeout=`` is enforced
with SIGALRM. The supervisor forwards SIGTERM/SIGINT/SIGHUP to the children,
replaces a child that dies (its running task is recovered by a sibling once
the dead child's lease lapses), and exits when they have all stopped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Huey

log = logging.getLogger("engine.supervisor")


def _child(huey: Huey, options: dict[str, Any]) -> None:
    from .consumer import Consumer

    huey.storage = huey.create_storage()  # never share the parent's connections
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches us via the supervisor
    consumer = Consumer(huey, inline=True, worker_type="process", **options)
    consumer.run()


class Supervisor:
    def __init__(
        self, huey: Huey, processes: int, check_interval: float = 0.5, **options: Any
    ) -> None:
        self.huey = huey
        self.check_interval = check_interval
        self.processes = processes
        self.options = options
        self.restart = False
        self._stopping = 0
        self._ctx = multiprocessing.get_context("fork")
        self._children: list[BaseProcess] = []

    def _spawn(self) -> BaseProcess:
        child = self._ctx.Process(target=_child, args=(self.huey, self.options), daemon=False)
        child.start()
        return child

    def _signal(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGHUP:
            self.restart = True
        self._stopping += 1
        for child in self._children:
            if child.is_alive() and child.pid:
                # A second signal makes the children hurry (hand back and exit).
                os.kill(child.pid, signal.SIGTERM)

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._signal)
        self._children = [self._spawn() for _ in range(self.processes)]
        while True:
            alive = [c for c in self._children if c.is_alive()]
            if self._stopping and not alive:
                return
            if not self._stopping:
                for i, child in enumerate(self._children):
                    if not child.is_alive():
                        log.error(
                            "worker process %s exited (%s); starting another",
                            child.pid,
                            child.exitcode,
                        )
                        self._children[i] = self._spawn()
            time.sleep(min(self.check_interval, 0.5) if self._stopping else self.check_interval)
