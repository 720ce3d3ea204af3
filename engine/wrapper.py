"""What ``@huey.task()`` returns: :class:`TaskWrapper`, a registered task you can call.

Facade floor: a wrapper holds the task's :class:`~engine.task.TaskSpec` (what
the registry and the worker see) and the ``Huey`` it enqueues through. It moved
here from ``engine.task`` so that the task model no longer imports the facade.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError
from .task import RESERVED, Task, TaskSpec

if TYPE_CHECKING:
    from .api import Huey
    from .result import Result, ResultGroup

_RESERVED = frozenset(RESERVED)


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
        periodic: Callable[[dt.datetime], bool] | None = None,
    ) -> None:
        self.huey = huey
        self.spec = TaskSpec(
            func=func,
            name=name or f"{func.__module__}.{func.__qualname__}",
            retries=retries,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            priority=priority or 0,
            expires=expires,
            timeout=timeout,
            context=context,
            periodic=periodic,
            label=name or str(getattr(func, "__name__", "")),
        )
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", self.spec.name)
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<TaskWrapper {self.name}>"

    # --- the spec's fields, read-only ------------------------------------------
    @property
    def func(self) -> Callable[..., Any]:
        """The decorated function."""
        return self.spec.func

    @property
    def name(self) -> str:
        """The name the task is registered and enqueued under."""
        return self.spec.name

    @property
    def retries(self) -> int:
        """How many times a failed call is tried again, unless the call says otherwise."""
        return self.spec.retries

    @property
    def retry_delay(self) -> float:
        """Seconds to wait before each retry."""
        return self.spec.retry_delay

    @property
    def retry_backoff(self) -> float:
        """Factor the retry delay is multiplied by after each retry (0: constant)."""
        return self.spec.retry_backoff

    @property
    def priority(self) -> int:
        """Priority of each call (higher is claimed first), unless the call says otherwise."""
        return self.spec.priority

    @property
    def expires(self) -> float | dt.timedelta | dt.datetime | None:
        """When an unstarted call is skipped: seconds or timedelta from enqueue, or a datetime."""
        return self.spec.expires

    @property
    def timeout(self) -> float | None:
        """Seconds a call may run, or None for no limit."""
        return self.spec.timeout

    @property
    def context(self) -> bool:
        """Whether the running Task is passed to the function as the keyword argument task."""
        return self.spec.context

    @property
    def periodic(self) -> Callable[[dt.datetime], bool] | None:
        """The schedule (a crontab or a function of a datetime) of a periodic task, else None."""
        return self.spec.periodic

    # --- building calls ---------------------------------------------------------
    def s(self, *args: Any, **kwargs: Any) -> Task:
        """A call of this task, not yet enqueued (pipelines start here).

        As in huey, the keyword arguments ``id, eta, delay, retries, retry_delay,
        retry_backoff, priority, expires, timeout`` set options of this call and
        are not passed to the function (pass such parameters positionally).
        """
        if not kwargs or _RESERVED.isdisjoint(kwargs):  # the common call: no options
            return self.huey.new_call(self.spec, args, kwargs)
        opts = {k: kwargs.pop(k) for k in RESERVED if k in kwargs}
        eta, delay = opts.pop("eta", None), opts.pop("delay", None)
        task = self.huey.new_call(self.spec, args, kwargs, **opts)
        if eta is not None or delay is not None:
            task.due_at = self.huey.resolve_eta(eta, delay)
        return task

    # --- enqueueing ----------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Result:
        """Enqueue a call (same arguments as :meth:`s`); returns its :class:`Result`
        (None when the queue stores no results, as in huey)."""
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
        """Run later: after ``delay`` seconds, or at ``eta`` (see :meth:`Huey.resolve_eta`).

        As in huey, without ``eta`` and ``delay`` the first argument may be the
        delay (seconds or a timedelta) or the eta (a datetime): ``schedule(60)``.
        """
        if eta is None and delay is None and isinstance(args, (int, float, dt.timedelta)):
            args, delay = None, args
        elif eta is None and delay is None and isinstance(args, dt.datetime):
            args, eta = None, args
        if kwargs is not None and not isinstance(kwargs, dict):
            raise ConfigurationError("schedule(kwargs=...) must be a dict")
        task = self.huey.new_call(
            self.spec,
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
        task.due_at = self.huey.resolve_eta(eta, delay, convert_utc)
        return self.huey.enqueue(task)  # type: ignore[no-any-return]

    def map(self, it: Iterable[Any]) -> ResultGroup | None:
        """Enqueue one call per item (a tuple item is ``*args``), in one round trip;
        None when the queue stores no results."""
        calls = [i if isinstance(i, tuple) else (i,) for i in it]
        return self.huey.enqueue_many(self.huey.new_calls(self.spec, calls))

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
        """Lift a :meth:`revoke` of this task; False if it was not revoked."""
        return self.huey.restore_all(self.name)

    def is_revoked(self, timestamp: dt.datetime | float | None = None, peek: bool = True) -> bool:
        """Whether every call of this task is revoked now (or at ``timestamp``);
        ``peek=False`` spends a ``revoke_once`` (see :meth:`Huey.is_revoked`)."""
        return self.huey.is_revoked(self, timestamp=timestamp, peek=peek)

    def unregister(self) -> bool:
        """Forget this task in its queue's registry."""
        return self.huey.unregister(self)

    def unwrap(self) -> Callable[..., Any]:
        """The decorated function itself."""
        return self.func


def with_context(obj: Any, func: Callable[..., Any], as_argument: bool) -> Callable[..., Any]:
    """``func`` run inside ``with obj`` (huey's ``context_task``), given what ``obj``
    enters as its first argument with ``as_argument``. An ``async def`` stays one, inside
    ``async with obj`` when ``obj`` is an async context manager."""
    if inspect.iscoroutinefunction(func):
        return _with_context_async(obj, func, as_argument)

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        with obj as ctx:
            return func(ctx, *args, **kwargs) if as_argument else func(*args, **kwargs)

    return inner


def _with_context_async(
    obj: Any, func: Callable[..., Any], as_argument: bool
) -> Callable[..., Any]:
    @functools.wraps(func)
    async def inner(*args: Any, **kwargs: Any) -> Any:
        if hasattr(obj, "__aenter__"):
            async with obj as ctx:
                return await (func(ctx, *args, **kwargs) if as_argument else func(*args, **kwargs))
        with obj as ctx:
            return await (func(ctx, *args, **kwargs) if as_argument else func(*args, **kwargs))

    return inner
