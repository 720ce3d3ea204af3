"""Every error the engine raises derives from :class:`EngineError`.

The CLI maps these to one-line messages; nothing here carries driver types
(redis / sqlite3) so callers never need to import a storage driver to catch.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class of every engine error."""


class ConfigurationError(EngineError, ValueError):
    """A task, queue or call was set up wrongly; the message says what to fix."""


class StoreUnavailable(EngineError):
    """The store (Redis, SQLite file) cannot be reached, or cannot serve right now.

    Transient: a lost connection, a Redis still loading its data (LOADING), a replica
    that turned read-only in a failover (READONLY), a busy script (BUSY), a cluster
    resharding or without a master (TRYAGAIN, CLUSTERDOWN, MASTERDOWN). Try again."""


class StoreError(EngineError):
    """The store refused an operation (e.g. Redis: a database index out of range)."""


class StoreFull(StoreError):
    """The store is out of memory (Redis ``maxmemory`` reached) and refused to add work.

    Nothing of the refused call was written. Work already queued still drains (finishing,
    heartbeats, recovery and deletions stay allowed), which frees memory; try again then."""


class StoreDenied(StoreError):
    """The store refused a command to this user (Redis ACL: NOPERM); ``command`` names it.

    Fixed by the operator (``ACL SETUSER <user> +<command>``); a worker keeps trying."""

    def __init__(self, message: str, command: str = "") -> None:
        self.command = command
        super().__init__(message)


def store_fault(exc: BaseException) -> str | None:
    """What kind of store refusal ``exc`` is: ``"transient"`` (retry soon), ``"full"``
    (the store is out of memory: add no work, keep draining), ``"denied"`` (a permission
    is missing: retry slowly), ``"refused"`` (any other refusal), or None (no store error)."""
    if isinstance(exc, StoreUnavailable):
        return "transient"
    if isinstance(exc, StoreFull):
        return "full"
    if isinstance(exc, StoreDenied):
        return "denied"
    if isinstance(exc, StoreError):
        return "refused"
    return None


class CodecError(EngineError, ValueError):
    """A value could not be encoded, or a message could not be decoded."""


class SignatureError(CodecError):
    """A message's HMAC signature is missing or wrong; the message is never decoded."""


class TaskLockedException(EngineError):
    """The lock a task asked for is held by someone else."""


class RateLimitExceeded(EngineError):
    """A rate limit refused the call; ``delay`` is the wait until its window ends.

    With ``retry=True`` the worker retries the task then, even without retries left.
    """

    def __init__(self, key: str, delay: float, retry: bool = True) -> None:
        self.key, self.delay, self.retry = key, delay, retry
        super().__init__(key, delay, retry)  # as huey: pickles, and args are (key, delay, retry)

    def __str__(self) -> str:
        if self.retry:
            return f'Rate limit exceeded on "{self.key}", retry in {self.delay:0.1f}s'
        return f'Rate limit exceeded on "{self.key}"'


class TaskTimeout(EngineError):
    """A task ran past its ``timeout`` (enforced in process workers, cooperative in threads)."""


class CancelExecution(EngineError):
    """Raised by a task (or a pre-execute hook) to cancel this execution, as in huey.

    In a task: retried when ``retry`` is true, or when it is None and the task has
    retries left; otherwise the call ends and its result raises
    :class:`TaskException` carrying the message. From a pre-execute hook the call
    is dropped, without a result (``retry=True`` retries it).
    """

    def __init__(self, msg: str | None = None, retry: bool | None = None) -> None:
        if isinstance(msg, bool):  # our old CancelExecution(retry, *args)
            raise ConfigurationError(
                f"CancelExecution(msg=None, retry=None) takes the message first: "
                f"write CancelExecution(retry={msg!r})"
            )
        self.retry = retry
        super().__init__(*(() if msg is None else (msg,)))


class TaskCancelled(CancelExecution):
    """A running call was cancelled (``hueyctl cancel``): raised into it at its next
    engine call (a lock, a rate limit, a result wait), and the way it ends either way:
    not retried, its result raises :class:`TaskException`, like ``CancelExecution``."""

    def __init__(self, msg: str | None = None) -> None:
        super().__init__(msg, retry=False)


class RetryTask(EngineError):
    """Raised inside a task to ask for a retry, even when ``retries`` is 0.

    ``delay`` / ``eta`` override the task's ``retry_delay``.
    """

    def __init__(self, msg: str | None = None, eta: Any = None, delay: Any = None) -> None:
        self.eta, self.delay = eta, delay
        super().__init__(msg)


class ResultTimeout(EngineError):
    """``Result.get(blocking=True, timeout=...)`` ran out of time."""


class TaskException(EngineError):
    """A task failed; raised when its result is read.

    ``metadata`` holds ``error``, ``traceback``, ``retries`` and ``task_id``
    (also available as attributes).
    """

    def __init__(self, metadata: dict[str, Any] | None = None, *args: Any) -> None:
        self.metadata = dict(metadata or {})
        super().__init__(*args)

    @property
    def error(self) -> str | None:
        """The failure as text (repr of the exception the task raised)."""
        return self.metadata.get("error")

    @property
    def traceback(self) -> str | None:
        """The formatted traceback of the failure."""
        return self.metadata.get("traceback")

    @property
    def retries(self) -> int | None:
        """How many retries the task had left when it failed for good."""
        return self.metadata.get("retries")

    @property
    def task_id(self) -> str | None:
        """The id of the call that failed."""
        return self.metadata.get("task_id")

    def __str__(self) -> str:
        return self.metadata.get("error") or "unknown error"
