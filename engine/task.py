"""Tasks: the decorated function (:class:`TaskWrapper`) and one call of it (:class:`Task`).

A :class:`Task` is plain data (id, name, args, kwargs, options, the pipeline
that follows it); the envelope codec turns it into bytes and back, and the
worker runs it by looking its name up in the queue's registry.
"""

from __future__ import annotations

import datetime as dt
import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, TaskTimeout
from .storage.base import new_task_id

if TYPE_CHECKING:
    from .api import Huey
    from .crontab import Crontab
    from .result import Result, ResultGroup


@dataclass(slots=True)
class Task:
    """One invocation of a task, as enqueued (huey calls this ``QueueTask``)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_task_id)
    eta: float | None = None
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 0.0
    priority: int = 0
    expires: float | None = None  # absolute epoch seconds, resolved at enqueue
    timeout: float | None = None
    on_complete: Task | None = None
    on_error: Task | None = None
    enqueued_at: float | None = None
    attempt: int = 1
    huey: Huey | None = field(default=None, repr=False, compare=False)
    # Relative expiry given at .s() time, resolved to ``expires`` at enqueue.
    expires_in: float | None = field(default=None, repr=False, compare=False)
    chord: dict[str, Any] | None = None  # {"id", "size", "index", "callback": envelope record}
    # Enqueued by name without the task's code (hueyctl enqueue --url): the worker
    # fills in the registered task's retries, retry delay and backoff, and timeout.
    defaults: bool = False
    # Set by the worker while the task runs (not part of the message).
    deadline: float | None = field(default=None, repr=False, compare=False)
    runtime: float | None = field(default=None, repr=False, compare=False)

    # --- cooperative timeouts (pass context=True to get the task) -----------------
    @property
    def time_remaining(self) -> float:
        if self.deadline is None:
            return float("inf")
        return max(0.0, self.deadline - time.monotonic())

    @property
    def is_timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def check_timeout(self) -> None:
        """Raise :class:`TaskTimeout` if this task has run past its ``timeout``."""
        if self.is_timed_out:
            raise TaskTimeout(f"timeout {self.timeout}s")

    def then(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> Task:
        """Append a stage to the end of this pipeline; returns the head, for chaining."""
        self._tail().on_complete = _as_task(task, args, kwargs)
        return self

    def error(self, task: TaskWrapper | Task, *args: Any, **kwargs: Any) -> Task:
        """Run ``task`` with the exception's details if the last stage so far fails."""
        self._tail().on_error = _as_task(task, args, kwargs)
        return self

    def _tail(self) -> Task:
        node = self
        while node.on_complete is not None:
            node = node.on_complete
        return node

    def stages(self) -> list[Task]:
        out: list[Task] = []
        node: Task | None = self
        while node is not None:
            out.append(node)
            node = node.on_complete
        return out

    def apply_defaults(self, wrapper: TaskWrapper) -> None:
        if self.defaults:
            self.retries, self.retry_delay = wrapper.retries, wrapper.retry_delay
            self.retry_backoff, self.timeout = wrapper.retry_backoff, wrapper.timeout
            self.defaults = False

    def with_new_id(self) -> Task:
        return replace(self, id=new_task_id())

    def __repr__(self) -> str:
        return f"Task({self.name}, id={self.id})"


RESERVED = (
    "id",
    "eta",
    "delay",
    "retries",
    "retry_delay",
    "retry_backoff",
    "priority",
    "expires",
    "timeout",
)


def _as_task(task: TaskWrapper | Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Task:
    if isinstance(task, TaskWrapper):
        return task.s(*args, **kwargs)
    if isinstance(task, Task):
        if args or kwargs:
            raise ConfigurationError("pass arguments either to .s() or to .then(), not both")
        return task
    raise ConfigurationError(f"expected a task or task.s(...), got {type(task).__name__}")


def _check_callable(func: Callable[..., Any]) -> None:
    if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"task {func.__qualname__!r} is 'async def': tasks run in worker threads or "
            "processes; write a plain 'def' (call asyncio.run() inside it if needed)"
        )
    if not callable(func):
        raise ConfigurationError(f"@task() decorates functions, got {type(func).__name__}")


class TaskWrapper:
    """What ``@huey.task()`` returns: call it to enqueue, ``.s()`` to build a call."""

    def __init__(
        self,
        huey: Huey,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 0,
        retry_backoff: float = 0.0,
        priority: int | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        timeout: float | None = None,
        context: bool = False,
        periodic: Crontab | None = None,
    ) -> None:
        _check_callable(func)
        if retries < 0 or retry_delay < 0:
            raise ConfigurationError("retries and retry_delay must be >= 0")
        self.huey = huey
        self.func = func
        self.name = name or f"{func.__module__}.{func.__qualname__}"
        self.retries = retries
        self.retry_delay = retry_delay
        self.retry_backoff = retry_backoff
        self.priority = priority or 0
        self.expires = expires
        self.timeout = timeout
        self.context = context
        self.periodic = periodic
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", self.name)
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<TaskWrapper {self.name}>"

    # --- building calls ---------------------------------------------------------
    def s(self, *args: Any, **kwargs: Any) -> Task:
        """A call of this task, not yet enqueued (pipelines start here).

        As in huey, the keyword arguments ``id, eta, delay, retries, retry_delay,
        retry_backoff, priority, expires, timeout`` set options of this call and
        are not passed to the function (pass such parameters positionally).
        """
        opts = {k: kwargs.pop(k) for k in RESERVED if k in kwargs}
        eta, delay = opts.pop("eta", None), opts.pop("delay", None)
        task = self._task(args, kwargs, **opts)
        if eta is not None or delay is not None:
            task.eta = self.huey.resolve_eta(eta, delay)
        return task

    def _task(
        self,
        args: Iterable[Any],
        kwargs: dict[str, Any] | None,
        *,
        id: str | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        retry_backoff: float | None = None,
        priority: int | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        timeout: float | None = None,
    ) -> Task:
        task = Task(
            name=self.name,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            retries=self.retries if retries is None else retries,
            retry_delay=self.retry_delay if retry_delay is None else retry_delay,
            retry_backoff=self.retry_backoff if retry_backoff is None else retry_backoff,
            priority=self.priority if priority is None else priority,
            timeout=self.timeout if timeout is None else timeout,
            huey=self.huey,
        )
        if id is not None:
            task.id = id
        exp = self.expires if expires is None else expires
        if exp is not None:
            self.huey._set_expiry(task, exp)
        return task

    # --- enqueueing ----------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Result:
        return self.huey.enqueue(self.s(*args, **kwargs))  # type: ignore[no-any-return]

    def schedule(
        self,
        args: Iterable[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        eta: dt.datetime | float | None = None,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        id: str | None = None,
        convert_utc: bool = True,
        retry_backoff: float | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run later: after ``delay`` seconds, or at ``eta`` (see :meth:`Huey.resolve_eta`)."""
        if kwargs is not None and not isinstance(kwargs, dict):
            raise ConfigurationError("schedule(kwargs=...) must be a dict")
        task = self._task(
            args or (),
            kwargs,
            id=id,
            retries=retries,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            priority=priority,
            expires=expires,
            timeout=timeout,
        )
        task.eta = self.huey.resolve_eta(eta, delay, convert_utc)
        return self.huey.enqueue(task)  # type: ignore[no-any-return]

    def map(self, it: Iterable[Any]) -> ResultGroup:
        """Enqueue one call per item (a tuple item is ``*args``), in one round trip."""
        calls = [self.s(*i) if isinstance(i, tuple) else self.s(i) for i in it]
        return self.huey.enqueue_many(calls)

    def call_local(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function here and now, bypassing the queue."""
        return self.func(*args, **kwargs)

    # --- revocation ---------------------------------------------------------------------
    def revoke(
        self, revoke_until: dt.datetime | float | None = None, revoke_once: bool = False
    ) -> None:
        """Stop every instance of this task (until a time, once, or until restored)."""
        self.huey.revoke_all(self.name, revoke_until=revoke_until, revoke_once=revoke_once)

    def restore(self) -> bool:
        return self.huey.restore_all(self.name)

    def is_revoked(self, timestamp: float | None = None) -> bool:
        return self.huey.is_revoked(self.name, timestamp=timestamp)

    def unregister(self) -> bool:
        """Forget this task in its queue's registry."""
        return self.huey.unregister(self)

    def unwrap(self) -> Callable[..., Any]:
        return self.func
