"""huey's signal catalogue: receivers are called as ``receiver(signal, task, *extra)``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

SIGNAL_CANCELED = "canceled"
SIGNAL_COMPLETE = "complete"
SIGNAL_ERROR = "error"
SIGNAL_EXECUTING = "executing"
SIGNAL_EXPIRED = "expired"
SIGNAL_LOCKED = "locked"
SIGNAL_RATE_LIMITED = "rate-limited"
SIGNAL_RETRYING = "retrying"
SIGNAL_REVOKED = "revoked"
SIGNAL_SCHEDULED = "scheduled"
SIGNAL_INTERRUPTED = "interrupted"
SIGNAL_TIMEOUT = "timeout"
SIGNAL_ENQUEUED = "enqueued"

ALL = (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_LOCKED,
    SIGNAL_RATE_LIMITED,
    SIGNAL_RETRYING,
    SIGNAL_REVOKED,
    SIGNAL_SCHEDULED,
    SIGNAL_INTERRUPTED,
    SIGNAL_TIMEOUT,
    SIGNAL_ENQUEUED,
)

# The guide's older spellings (EVENT_LOCKED ...).
EVENT_CANCELED, EVENT_COMPLETE, EVENT_ERROR, EVENT_EXECUTING = (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
)
EVENT_EXPIRED, EVENT_LOCKED, EVENT_RATE_LIMITED, EVENT_RETRYING = (
    SIGNAL_EXPIRED,
    SIGNAL_LOCKED,
    SIGNAL_RATE_LIMITED,
    SIGNAL_RETRYING,
)
EVENT_REVOKED, EVENT_SCHEDULED, EVENT_INTERRUPTED, EVENT_TIMEOUT, EVENT_ENQUEUED = (
    SIGNAL_REVOKED,
    SIGNAL_SCHEDULED,
    SIGNAL_INTERRUPTED,
    SIGNAL_TIMEOUT,
    SIGNAL_ENQUEUED,
)

Receiver = Callable[..., Any]
log = logging.getLogger("huey.signals")


class Signals:
    """A queue's signal receivers (huey.signals); use Huey.signal() to connect one."""

    def __init__(self) -> None:
        # Tuples, replaced whole on (dis)connect: ``send`` (twice per task in a worker)
        # iterates one without copying it, whatever connects meanwhile.
        self._receivers: dict[str, tuple[Receiver, ...]] = {s: () for s in ALL}
        self._lock = threading.Lock()

    def connect(self, receiver: Receiver, *signals: str) -> None:
        """Call receiver for each named signal (every signal when none is named); an
        unknown name raises ValueError. Connecting twice has no further effect.
        """
        for s in signals or ALL:
            if s not in self._receivers:
                raise ValueError(f"unknown signal {s!r}: use one of {', '.join(ALL)}")
            with self._lock:
                if receiver not in self._receivers[s]:
                    self._receivers[s] += (receiver,)

    def disconnect(self, receiver: Receiver, *signals: str) -> None:
        """Stop calling receiver for the named signals (every signal when none is named)."""
        with self._lock:
            for s in signals or ALL:
                receivers = self._receivers.get(s, ())
                if receiver in receivers:
                    self._receivers[s] = tuple(r for r in receivers if r != receiver)

    def connected(self, signal: str) -> bool:
        """Whether any receiver listens to the signal (to skip work made only for it)."""
        return bool(self._receivers[signal])

    def send(self, signal: str, task: Any, *extra: Any) -> None:
        """Call every receiver; one that raises is logged and never stops the others."""
        receivers = self._receivers[signal]
        if not receivers:  # the common case on a producer: nobody listens
            return
        for receiver in receivers:
            try:
                receiver(signal, task, *extra)
            except Exception:
                log.exception("signal receiver %r failed for %s", receiver, signal)
