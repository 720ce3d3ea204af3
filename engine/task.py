"""Tasks as data: one call (:class:`Task`) and what the registry holds (:class:`TaskSpec`).

Model floor (imports only the ground): a :class:`Task` is plain data (id, name,
args, kwargs, options, the pipeline that follows it); the envelope codec turns
it into bytes and back, and the worker runs it by looking its name up in the
queue's registry, which maps names to :class:`TaskSpec`. What ``@huey.task()``
returns, :class:`~engine.wrapper.TaskWrapper`, lives with the facade because it
enqueues through ``Huey``; this module only knows it as a :class:`CallBuilder`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .exceptions import ConfigurationError, TaskException, TaskTimeout
from .ids import new_task_id


@dataclass(slots=True)
class Task:
    """One invocation of a task, as enqueued (huey calls this ``QueueTask``).

    ``name`` answers as huey's does (the function's name, or the ``name=`` the task
    was registered with); the store and the wire use :attr:`registered_name`."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_task_id)
    due_at: float | None = None  # epoch seconds, as stored and sent (``eta`` on the wire)
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
    # Relative expiry given at .s() time, resolved to ``expires`` at enqueue.
    expires_in: float | None = field(default=None, repr=False, compare=False)
    chord: dict[str, Any] | None = None  # {"id", "size", "index", "callback": envelope record}
    # Enqueued by name without the task's code (hueyctl enqueue --url): the worker
    # fills in the registered task's retries, retry delay and backoff, and timeout.
    defaults: bool = False
    # The attempts before this one that failed (the last ATTEMPTS_KEPT), each
    # {"n", "at", "worker", "took", "error"}, and the retries the call started with:
    # carried in the message by a retry (engine.outcome), None until the first one.
    history: list[dict[str, Any]] | None = None
    retries_given: int | None = None
    # Set by the worker while the task runs (not part of the message).
    deadline: float | None = field(default=None, repr=False, compare=False)
    runtime: float | None = field(default=None, repr=False, compare=False)
    # Set by the consumer when `hueyctl cancel` asks to stop this running call.
    cancelled: bool = field(default=False, repr=False, compare=False)
    cancelled_by: str = field(default="", repr=False, compare=False)
    # The name the task is registered, enqueued and stored under ("task" in the
    # envelope: module.qualname unless @task(name=...)); ``name`` is huey's name for
    # it (the function's name). Defaults to ``name``.
    registered_name: str = field(default="", repr=False)
    # The id made for this call when it was built (``mint``), until the call is first
    # turned into a message for the store (``take_fresh``): while it is still ``id``,
    # no store holds anything under that id. Not copied by ``replace``.
    minted: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.registered_name:
            self.registered_name = self.name

    @property
    def eta(self) -> dt.datetime | None:
        """When this call is due, as huey shows it: a naive UTC datetime, or None. The
        message and the store keep epoch seconds (:attr:`due_at`)."""
        if self.due_at is None:
            return None
        return dt.datetime.fromtimestamp(self.due_at, dt.UTC).replace(tzinfo=None)

    @eta.setter
    def eta(self, when: dt.datetime | float | None) -> None:
        # A naive datetime is UTC here (Huey.resolve_eta reads local time for you).
        if isinstance(when, dt.datetime):
            when = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
        self.due_at = when

    # --- cooperative timeouts (pass context=True to get the task) -----------------
    @property
    def time_remaining(self) -> float:
        """Seconds this call may still run before its ``timeout``; infinity without one
        (or when it is not running)."""
        if self.deadline is None:
            return float("inf")
        return max(0.0, self.deadline - time.monotonic())

    @property
    def is_timed_out(self) -> bool:
        """Whether this running call has passed its ``timeout``."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def check_timeout(self) -> None:
        """Raise :class:`TaskTimeout` if this task has run past its ``timeout``."""
        if self.is_timed_out:
            raise TaskTimeout(f"timeout {self.timeout}s")

    def then(self, task: CallBuilder | Task, *args: Any, **kwargs: Any) -> Task:
        """Append a stage to the end of this pipeline; returns the head, for chaining."""
        self._tail().on_complete = as_task(task, args, kwargs)
        return self

    def error(self, task: CallBuilder | Task, *args: Any, **kwargs: Any) -> Task:
        """Run ``task`` with the exception's details if the last stage so far fails.
        If that stage has a handler already, ``task`` handles the handler's failure
        (``.error(a).error(b)``: ``b`` runs if ``a`` fails), as in huey."""
        tail = self._tail()
        if tail.on_error is not None:
            tail.on_error.error(task, *args, **kwargs)
        else:
            tail.on_error = as_task(task, args, kwargs)
        return self

    def _tail(self) -> Task:
        return self.stages()[-1]

    def stages(self) -> list[Task]:
        """This call and each pipeline stage after it (``then()``), in order."""
        out: list[Task] = []
        node: Task | None = self
        while node is not None:
            out.append(node)
            node = node.on_complete
        return out

    def apply_defaults(self, spec: TaskSpec) -> None:
        """A call enqueued by name without the code takes the registered task's options."""
        if self.defaults:
            self.retries, self.retry_delay = spec.retries, spec.retry_delay
            self.retry_backoff, self.timeout = spec.retry_backoff, spec.timeout
            self.defaults = False

    def with_new_id(self) -> Task:
        """A copy of this call under a fresh id (how a call is rescheduled)."""
        return replace(self, id=new_task_id()).mint()

    def mint(self) -> Task:
        """Mark the id as made for this call (it was never stored); returns self."""
        self.minted = self.id
        return self

    def take_fresh(self) -> bool:
        """Whether the id is still the one made for this call and never given to a
        store (see ``Message.fresh``); from now on it is not."""
        fresh = self.minted == self.id and bool(self.minted)
        self.minted = ""
        return fresh

    def __repr__(self) -> str:
        return f"Task({self.name}, id={self.id})"


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What the queue's registry holds for one task name: the function and the
    options every call starts from. The worker reads it to run a call;
    ``TaskWrapper`` builds calls from it."""

    func: Callable[..., Any]
    name: str
    retries: int = 0
    retry_delay: float = 0
    retry_backoff: float = 0.0
    priority: int = 0
    expires: float | dt.timedelta | dt.datetime | None = None
    timeout: float | None = None
    context: bool = False
    # A crontab (or any function of a datetime) for periodic tasks, else None.
    periodic: Callable[[dt.datetime], bool] | None = None
    # What a call's ``Task.name`` answers, as huey: the function's name, or the
    # ``name=`` given; empty means ``name``.
    label: str = ""
    #: An ``async def`` task: its call returns a coroutine, run on an event loop.
    is_async: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        check_callable(self.func)
        object.__setattr__(self, "is_async", is_coroutine_function(self.func))
        if self.retries < 0 or self.retry_delay < 0:
            raise ConfigurationError("retries and retry_delay must be >= 0")


#: How many past attempts a call carries in its message (the newest; older ones drop).
ATTEMPTS_KEPT = 10

# The options a task is registered with (``@huey.task(...)``, :class:`TaskSpec`) that
# each call may override (``.s(...)``, ``schedule(...)``, ``QueueCore.new_call``) and
# that a :class:`Task` carries: the one list of their names. The keyword lists that
# spell them out are public signatures, held to this tuple by a test.
CALL_OPTIONS = ("retries", "retry_delay", "retry_backoff", "priority", "expires", "timeout")
# Keyword arguments of ``.s()`` that set the call's options instead of reaching the function.
RESERVED = ("id", "eta", "delay", *CALL_OPTIONS)


class CallBuilder(Protocol):
    """Anything that builds a call with ``.s(*args, **kwargs)``: a ``TaskWrapper``."""

    def s(self, *args: Any, **kwargs: Any) -> Task: ...


def as_task(task: CallBuilder | Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Task:
    """The call ``.then()``/``.error()`` and groups were given: a Task, or a wrapper's
    ``.s()``. Arguments given with a Task are appended to its own, as huey does
    (positional ones after its args; keywords it already has are kept)."""
    if isinstance(task, Task):
        for extra in (args, kwargs):
            if extra:
                _extend(task, extra)
        return task
    if callable(getattr(task, "s", None)):
        return task.s(*args, **kwargs)
    raise ConfigurationError(f"expected a task or task.s(...), got {type(task).__name__}")


def _extend(task: Task, extra: tuple[Any, ...] | dict[str, Any]) -> None:
    if isinstance(extra, tuple):
        task.args = task.args + extra
    else:
        task.kwargs = {**extra, **task.kwargs}


def error_metadata(task: Task, exc: BaseException, tb: str | None = None) -> dict[str, Any]:
    """What a final failure stores (``Huey.build_error_result``'s default): huey's keys
    ``error``, ``retries``, ``traceback``, ``task_id``, plus ``type``, ``type_path`` and
    ``task``. A task that failed on a failed subtask's result records the inner error,
    as huey."""
    if tb is None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    error = (exc.metadata.get("error") if isinstance(exc, TaskException) else None) or repr(exc)
    return {
        "error": error,
        "type": type(exc).__name__,
        # The class's import path (``builtins.ValueError``), for tools that name it
        # (django.tasks' TaskError). Added later: an older record lacks it.
        "type_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": tb,
        "retries": task.retries,
        "task_id": task.id,
        "task": task.registered_name,
    }


def is_coroutine_function(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is ``async def`` (or marked so, ``inspect.markcoroutinefunction``).
    A plain function that returns a coroutine is run too: the worker runs what it gets."""
    return inspect.iscoroutinefunction(func)


def check_callable(func: Callable[..., Any]) -> None:
    if inspect.isasyncgenfunction(func):
        raise ConfigurationError(
            f"task {func.__qualname__!r} is an async generator: a task returns one value; "
            "write 'async def' returning it (or a plain 'def')"
        )
    if not callable(func):
        raise ConfigurationError(f"@task() decorates functions, got {type(func).__name__}")
