"""The ``Huey`` facade: register tasks, enqueue them, read results, revoke, lock.

Facade floor (top of the engine; see ``docs/design.md``): ``Huey`` subclasses
:class:`~engine.core.QueueCore`, which holds what the runtime and the read model
need (store, envelope, registry of task specs, hooks, result records), and adds
the producer API here. Immediate mode runs the worker in-process.

Time: every timestamp the engine stores is epoch seconds (absolute), so
producers and consumers agree whatever their time zone. ``utc`` only decides
how *naive* datetimes given by the user are read (see :meth:`Huey.resolve_eta`)
and in which clock periodic crontabs are evaluated.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import cancellation
from .chord import chord, enqueue_chord, group
from .codec import Codec
from .consumer import Consumer, ConsumerSettings
from .core import Hook, QueueCore
from .crontab import Crontab
from .envelope import readable
from .exceptions import ConfigurationError, EngineError
from .executor import Executor
from .keys import RESULT, REVOKE_ID, REVOKE_TASK, lock_key, result_key
from .locks import RateLimit, TaskLock, flush_locks
from .result import Result, ResultGroup
from .revocation import call_keys
from .signals import SIGNAL_ENQUEUED
from .storage.base import Message, Migration, Storage
from .storage.blackhole import BlackHoleStorage
from .storage.memory import MemoryStorage
from .supervisor import Supervisor
from .task import Task
from .telemetry import operator_event
from .urls import SCHEMES_HELP, mask_url, sqlite_path, store_kind
from .wrapper import TaskWrapper, with_context

log = logging.getLogger("huey.api")

__all__: Sequence[str] = (
    "BlackHoleHuey",
    "Huey",
    "MemoryHuey",
    "PriorityRedisExpireHuey",
    "PriorityRedisHuey",
    "RedisExpireHuey",
    "RedisHuey",
    "SqliteHuey",
    "connect",
)


class Huey(QueueCore):
    """A queue. Subclasses pick the store: :class:`RedisHuey`, :class:`SqliteHuey`,
    :class:`MemoryHuey`."""

    def __init__(
        self,
        name: str = "huey",
        results: bool = True,
        store_none: bool = False,
        utc: bool = True,
        immediate: bool = False,
        codec: str | Codec = "json",
        signing_key: bytes | str | Sequence[bytes | str] | None = None,
        result_ttl: float | None = None,
        result_store: bool | None = None,
        storage_class: type[Storage] | None = None,
        immediate_use_memory: bool = True,
        serializer: Any = None,
        compression: bool = False,
        use_zlib: bool = False,
        store_intermediate_errors: bool = False,
        **storage_kwargs: Any,
    ) -> None:
        """Create a queue. Options not named here go to the store class.

        Options (all optional):
          name: the queue's name; queues with different names share a store without
            seeing each other's tasks. Default "huey".
          results: store what tasks return, so callers can read it through their
            Result. Default True.
          store_none: store a None return value too. Without it a task returning None
            stores nothing, so a blocking get() waits for its timeout.
            Default False.
          utc: evaluate periodic crontabs in UTC and read naive datetimes (as in
            revoke_until) as UTC; with False, both use local time. A naive eta (of
            schedule() or .s()) is local time either way, unless given to
            schedule(convert_utc=False). Default True.
          immediate: run every task in this process at enqueue time (tests,
            development); see the immediate property. Default False.
          codec: how arguments and results are encoded: "json" (typed JSON that
            hueyctl can show without the application's code), "pickle", or a Codec
            object. Default "json".
          signing_key: sign every message and every result with HMAC-SHA256 under
            this key; a message or result whose signature is missing or wrong is
            refused (SignatureError) before anything in it is decoded. A list of keys
            rotates them: the first signs, every one verifies. Default None (no
            signature; codec="pickle" without a key logs a warning once).
          result_ttl: seconds a task's stored result is kept; None keeps it until it
            is read or deleted. Default None.
          result_store: huey's older name for results; wins over results when given.
            Default None.
          storage_class: the Storage class to use instead of the class attribute of
            the same name (RedisHuey and SqliteHuey set it). Default None.
          immediate_use_memory: in immediate mode, swap in an empty in-memory store
            instead of using the configured one. Default True.
          serializer: not supported; giving one raises ConfigurationError (use
            codec). Default None.
          compression, use_zlib: not offered (messages are stored uncompressed);
            True raises ConfigurationError. Default False.
          store_intermediate_errors: not offered: an error result is stored only once
            a task's retries are exhausted; True raises ConfigurationError.
            Default False.
          **storage_kwargs: the store class's options, e.g. url= (Redis) or
            filename= (SQLite); the store refuses one it does not know.
        """
        if serializer is not None:
            raise ConfigurationError(
                "serializer= is not supported: use codec='json' (default) or codec='pickle'"
            )
        for option, given in (("compression", compression), ("use_zlib", use_zlib)):
            if given:
                raise ConfigurationError(
                    f"{option}= is not offered: messages are stored uncompressed; drop it"
                )
        if store_intermediate_errors:
            raise ConfigurationError(
                "store_intermediate_errors=True is not offered: a result holds only the "
                "task's final outcome (its error once retries are exhausted); drop it"
            )
        super().__init__(
            name,
            results=results if result_store is None else result_store,
            store_none=store_none,
            utc=utc,
            codec=codec,
            signing_key=signing_key,
            result_ttl=result_ttl,
            storage_class=storage_class,
            storage_kwargs=storage_kwargs,
        )
        # The wrappers of the registered tasks; QueueCore.registry holds their specs.
        self._registry: dict[str, TaskWrapper] = {}
        self._immediate_use_memory = immediate_use_memory
        self._immediate = False
        self.immediate = immediate

    def use_store(self, url: str | None = None, name: str | None = None) -> None:
        """Point this queue at another store URL and/or queue name (worker overrides)."""
        if name:
            self.name = name
        if url:
            other = connect(url, self.name)
            self._storage_class, self._storage_kwargs = other._storage_class, other._storage_kwargs
        self.storage.close()
        self.storage = self.create_storage()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.storage.describe()}>"

    # --- immediate mode ---------------------------------------------------------
    @property
    def immediate(self) -> bool:
        """Whether tasks run synchronously, in this process, when they are enqueued.

        Setting it to True swaps in an empty in-memory store (unless the queue was
        made with immediate_use_memory=False); setting it back to False restores the
        configured store. A call with an eta or delay is kept in the schedule and
        not run.
        """
        return self._immediate

    @immediate.setter
    def immediate(self, value: bool) -> None:
        if value == self._immediate:
            return
        self._immediate = value
        if value and self._immediate_use_memory:
            self._live_storage, self.storage = self.storage, MemoryStorage(self.name)
        elif not value and hasattr(self, "_live_storage"):
            self.storage = self._live_storage

    # --- decorators ----------------------------------------------------------------
    def task(
        self,
        retries: int = 0,
        retry_delay: float = 0,
        retry_backoff: float = 0.0,
        priority: int | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        timeout: float | None = None,
        context: bool = False,
        name: str | None = None,
        **unknown: Any,
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator that registers a function as a task; returns its TaskWrapper.

        Calling the wrapper enqueues a call and returns a Result; wrapper.s(...)
        builds a call without enqueueing it (for pipelines, groups and chords). Both
        @huey.task() and @huey.task work.

        Options (all keyword, all optional):
          retries: how many times a failed call is tried again. Default 0.
          retry_delay: seconds to wait before each retry. Default 0 (at once).
          retry_backoff: multiply the retry delay by this after each retry (2.0
            doubles it); 0 keeps it constant. Default 0.0.
          priority: calls with a higher priority are claimed first. Default None
            (0).
          expires: a call not started in time is skipped (SIGNAL_EXPIRED): seconds
            or a timedelta counted from enqueue, or an absolute datetime.
            Default None (never).
          timeout: seconds a call may run. Process workers interrupt it and raise
            TaskTimeout; thread workers cannot interrupt, so the task checks
            task.check_timeout() itself (see context). A timeout counts as a failure.
            Default None.
          context: pass the running Task to the function as the keyword argument
            task (its id, attempt, time_remaining ...). Default False.
          name: the name the task is registered and enqueued under; workers find the
            function by it. Default "<module>.<qualname>" of the function.

        Any other keyword raises ConfigurationError, as does registering another
        function under a name already taken.
        """
        if unknown:
            raise ConfigurationError(f"unknown @task() option(s): {', '.join(sorted(unknown))}")
        settings = dict(
            name=name,
            retries=retries,
            retry_delay=retry_delay,
            retry_backoff=retry_backoff,
            priority=priority,
            expires=expires,
            timeout=timeout,
            context=context,
        )
        if callable(retries):  # @huey.task without parentheses
            settings["retries"] = 0
            return self._decorator(settings)(retries)  # type: ignore[return-value]
        return self._decorator(settings)

    def periodic_task(
        self,
        validate_datetime: Crontab | Callable[[dt.datetime], bool],
        retries: int = 0,
        retry_delay: float = 0,
        retry_backoff: float = 0.0,
        priority: int | None = None,
        context: bool = False,
        name: str | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        timeout: float | None = None,
        **unknown: Any,
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator that registers a function to run on a schedule; returns its
        TaskWrapper.

        Every minute a consumer with periodic tasks enabled asks validate_datetime
        whether that minute is due, and enqueues one call (with no arguments) if so;
        each minute fires once however many consumers run, and a minute missed while
        none ran is not fired later. Periodic tasks never store a result.

        Options:
          validate_datetime: required; a crontab(...) or any function that takes a
            naive datetime (in UTC, or local time with utc=False) and returns
            whether that minute is due.
          retries: how many times a failed run is tried again. Default 0.
          retry_delay: seconds to wait before each retry. Default 0.
          retry_backoff: multiply the retry delay by this after each retry; 0 keeps
            it constant. Default 0.0.
          priority: a higher priority is claimed first. Default None (0).
          context: pass the running Task as the keyword argument task.
            Default False.
          name: the registered name. Default "<module>.<qualname>".
          expires: skip a run not started within this many seconds (or timedelta)
            of being enqueued, or after this datetime. Default None.
          timeout: seconds a run may take (see task()). Default None.

        Any other keyword raises ConfigurationError.
        """
        if unknown:
            raise ConfigurationError(
                f"unknown @periodic_task() option(s): {', '.join(sorted(unknown))}"
            )
        if not callable(validate_datetime):
            raise ConfigurationError(
                "periodic_task() takes a crontab(...) (or a function of a datetime)"
            )
        return self._decorator(
            dict(
                name=name,
                retries=retries,
                retry_delay=retry_delay,
                retry_backoff=retry_backoff,
                priority=priority,
                expires=expires,
                timeout=timeout,
                context=context,
                periodic=validate_datetime,
            )
        )

    def context_task(
        self, obj: Any, as_argument: bool = False, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], TaskWrapper]:
        """Decorator: a task (keyword options as task()) whose every call runs inside
        ``with obj:``, given what obj enters as its first argument with as_argument."""
        return lambda func: self.task(**kwargs)(with_context(obj, func, as_argument))

    def _decorator(self, settings: dict[str, Any]) -> Callable[[Callable[..., Any]], TaskWrapper]:
        def decorator(func: Callable[..., Any]) -> TaskWrapper:
            if isinstance(func, TaskWrapper):  # as huey: register its function again
                func = func.func
            return self._register(TaskWrapper(self, func, **settings))

        return decorator

    def _register(self, wrapper: TaskWrapper) -> TaskWrapper:
        existing = self._registry.get(wrapper.name)
        # The same function defined again (a module imported twice) is not a clash.
        if existing is not None and _code(existing.func) is not _code(wrapper.func):
            raise ConfigurationError(
                f"a task named {wrapper.name!r} is already registered: "
                "give one of them another name with @task(name=...)"
            )
        self._registry[wrapper.name] = wrapper
        self.registry[wrapper.name] = wrapper.spec
        return wrapper

    def unregister(self, wrapper: TaskWrapper | str) -> bool:
        """Forget a task (its wrapper or its name) in this queue's registry; whether it
        was registered. Calls already enqueued stay queued, and a worker that does
        not know the name dead-letters them.
        """
        self.registry.pop(_name(wrapper), None)
        return self._registry.pop(_name(wrapper), None) is not None

    def registered(self, name: str) -> TaskWrapper | None:
        """The TaskWrapper registered under name, or None."""
        return self._registry.get(name)

    @property
    def tasks(self) -> dict[str, TaskWrapper]:
        """A copy of the registry: every registered task by name."""
        return dict(self._registry)

    def periodic_tasks(self) -> list[TaskWrapper]:
        """The registered tasks that have a schedule (see periodic_task())."""
        return [w for w in self._registry.values() if w.periodic is not None]

    def signal(self, *signals: str) -> Callable[[Hook], Hook]:
        """Decorator that connects a receiver to the named signals (all of them when
        none is named), e.g. @huey.signal(SIGNAL_ERROR).

        A receiver is called as receiver(signal, task, *extra) in the process where
        the event happens (SIGNAL_ERROR passes the exception as extra); one that
        raises is logged and does not stop the others. Signals are listed in
        engine.ALL_SIGNALS.
        """

        def decorator(fn: Hook) -> Hook:
            self.signals.connect(fn, *signals)
            return fn

        return decorator

    def disconnect_signal(self, receiver: Hook, *signals: str) -> None:
        """Disconnect a receiver from the named signals (all of them when none is named)."""
        self.signals.disconnect(receiver, *signals)

    def _hook(self, registry: dict[str, Hook], name: str | None) -> Callable[[Hook], Hook]:
        def decorator(fn: Hook) -> Hook:
            registry[name or fn.__name__] = fn
            return fn

        return decorator

    def pre_execute(self, name: str | None = None) -> Callable[[Hook], Hook]:
        """Decorator that registers a hook called as hook(task) before each task runs,
        in the worker. Raising CancelExecution there drops the call without a result,
        as in huey (CancelExecution(retry=True) retries it instead). Any other
        exception is logged and ignored.
        name defaults to the function's name; a hook with the same name is replaced.
        """
        return self._hook(self._pre_execute, name)

    def post_execute(self, name: str | None = None) -> Callable[[Hook], Hook]:
        """Decorator that registers a hook called as hook(task, value, exception) after
        each task ran and its outcome was committed; exception is None on success.
        An exception in the hook is logged and ignored. name defaults to the
        function's name.
        """
        return self._hook(self._post_execute, name)

    def on_startup(self, name: str | None = None) -> Callable[[Hook], Hook]:
        """Decorator that registers a hook called with no arguments when a consumer
        starts (before it takes tasks), e.g. to open connections. An exception is
        logged and ignored. name defaults to the function's name.
        """
        return self._hook(self._startup, name)

    def on_shutdown(self, name: str | None = None) -> Callable[[Hook], Hook]:
        """Decorator that registers a hook called with no arguments when a consumer has
        stopped. An exception is logged and ignored. name defaults to the function's
        name.
        """
        return self._hook(self._shutdown, name)

    def _unregister(self, registry: dict[str, Hook], name_or_fn: str | Hook) -> bool:
        for name, fn in list(registry.items()):
            if name_or_fn in (name, fn):
                del registry[name]
                return True
        return False

    def unregister_pre_execute(self, name_or_fn: str | Hook) -> bool:
        """Remove a pre-execute hook by name or function; whether one was removed."""
        return self._unregister(self._pre_execute, name_or_fn)

    def unregister_post_execute(self, name_or_fn: str | Hook) -> bool:
        """Remove a post-execute hook by name or function; whether one was removed."""
        return self._unregister(self._post_execute, name_or_fn)

    def unregister_on_startup(self, name_or_fn: str | Hook) -> bool:
        """Remove a startup hook by name or function; whether one was removed."""
        return self._unregister(self._startup, name_or_fn)

    def unregister_on_shutdown(self, name: str | Hook | None = None) -> bool:
        """Remove a shutdown hook by name or function; whether one was removed. (huey's
        signature gives name a default; it is still required.)"""
        if name is None:
            raise ConfigurationError("unregister_on_shutdown() takes the hook's name or function")
        return self._unregister(self._shutdown, name)

    # --- time ------------------------------------------------------------------------
    def resolve_eta(
        self,
        eta: dt.datetime | float | None,
        delay: float | dt.timedelta | None,
        convert_utc: bool = True,
    ) -> float:
        """When a scheduled task is due, as epoch seconds.

        A naive ``eta`` is local time when ``convert_utc`` is true (the default,
        as in the guide: ``datetime.now() + ...``), and is read in the queue's
        mode (UTC, or local with ``utc=False``) when ``convert_utc=False``.
        """
        if (eta is None) == (delay is None):
            raise ConfigurationError("schedule() needs exactly one of eta= or delay=")
        if delay is not None:
            seconds = delay.total_seconds() if isinstance(delay, dt.timedelta) else float(delay)
            return time.time() + seconds
        assert eta is not None
        return self.to_timestamp(eta, naive_is_local=True if convert_utc else None)

    # --- enqueueing -------------------------------------------------------------------------
    def _handles(self, task: Task) -> Result | ResultGroup:
        results = [Result(self, stage) for stage in task.stages()]
        return results[0] if len(results) == 1 else ResultGroup(results)

    def enqueue(self, task: Task | group | chord) -> Any:
        """Put a task (or the head of a pipeline, a group, a chord) on the queue.
        Returns a :class:`Result`, a :class:`ResultGroup` with one result per
        stage or group member, or a :class:`ChordResult`; None for a task or a
        group when the queue stores no results (results=False), as in huey.
        SIGNAL_ENQUEUED is sent for a scheduled call too, as in huey."""
        if not isinstance(task, Task):
            if isinstance(task, chord):
                return enqueue_chord(self, task)
            if isinstance(task, group):
                handles = [self.enqueue(t) for t in task.tasks]
                return ResultGroup(handles) if self.results else None
            raise ConfigurationError(f"enqueue() takes task.s(...), got {type(task).__name__}")
        now = time.time()
        msg = self.prepare(task, now)
        self.signals.send(SIGNAL_ENQUEUED, task)
        storage = self.storage
        storage.announce_once()  # the queue's name in the store's list, once
        if task.due_at is not None and task.due_at > now:
            storage.schedule([(msg, task.due_at)])
        else:
            storage.enqueue([msg])
            if self._immediate:
                self._run_immediate()
        if not self.results:
            return None
        if task.on_complete is None:  # one call, one handle (a pipeline has one per stage)
            return Result(self, task)
        return self._handles(task)

    def enqueue_many(self, tasks: Iterable[Task]) -> ResultGroup | None:
        """Enqueue many tasks in one round trip (bulk path); None when the queue
        stores no results (results=False)."""
        tasks = list(tasks)
        now = time.time()
        msgs = [(self.prepare(t, now), t.due_at) for t in tasks]
        ready = [m for m, eta in msgs if eta is None or eta <= now]
        later = [(m, eta) for m, eta in msgs if eta is not None and eta > now]
        self.storage.announce_once()
        if ready:
            self.storage.enqueue(ready)
        if later:
            self.storage.schedule(later)
        for t in tasks:
            self.signals.send(SIGNAL_ENQUEUED, t)
        if self._immediate:
            self._run_immediate()
        return ResultGroup([Result(self, t) for t in tasks]) if self.results else None

    def _run_immediate(self) -> None:
        worker = Executor(self, consumer_id="immediate")
        while worker.step(time.time()):
            pass

    # --- results and data ---------------------------------------------------------------
    def result(
        self,
        task_id: str,
        blocking: bool = False,
        timeout: float | None = None,
        backoff: float = 1.15,
        max_delay: float = 1.0,
        revoke_on_timeout: bool = False,
        preserve: bool = False,
    ) -> Any:
        """The result of a task by id (see :meth:`Result.get`)."""
        handle = Result(self, Task(name="?", id=task_id))
        return handle.get(blocking, timeout, backoff, max_delay, revoke_on_timeout, preserve)

    def put(self, key: str, data: Any) -> None:
        """Store data under key in the queue's key/value space (the same space as task
        results, so Result and get() read it too). Kept until read or deleted.
        """
        self.storage.put(result_key(key), self.encode_value(data))

    def put_if_empty(self, key: str, data: Any, ttl: float | None = None) -> bool:
        """Store data under key unless something is stored there already; whether it
        was stored. With ttl, the entry expires after that many seconds.
        """
        return self.storage.put_if_empty(result_key(key), self.encode_value(data), ttl)

    def get(self, key: str, peek: bool = False) -> Any:
        """The data stored under key (by put() or as a task's result), or None when
        there is none. Reading removes it unless peek=True. A stored task failure
        raises TaskException.
        """
        rec = self.read_result(key, preserve=peek)
        return self.unwrap_result(rec) if isinstance(rec, dict) else None

    def delete(self, key: str) -> bool:
        """Delete what is stored under key; whether there was anything."""
        return self.storage.delete(result_key(key))

    def put_result(self, key: str, data: Any) -> None:
        """huey's older name for put()."""
        self.put(key, data)

    def result_count(self) -> int:
        """How many results (and put() entries) are stored."""
        return len(self.storage.keys(RESULT))

    # --- revocation ----------------------------------------------------------------------------
    def _revoke(self, key: str, until: dt.datetime | float | None, once: bool) -> None:
        ts = None if until is None else self.to_timestamp(until)
        self.revocations.put(key, ts, once)

    def revoke_all(
        self,
        name: str | TaskWrapper,
        revoke_until: dt.datetime | float | None = None,
        revoke_once: bool = False,
    ) -> None:
        """Revoke every instance of a task, by task name (or the task itself)."""
        self._revoke(REVOKE_TASK + _name(name), revoke_until, revoke_once)

    def restore_all(self, name: str | TaskWrapper) -> bool:
        """Lift a revoke_all() of a task (its wrapper or name); whether it was revoked."""
        return self.revocations.delete(REVOKE_TASK + _name(name))

    def revoke_by_id(
        self,
        task_id: str,
        revoke_until: dt.datetime | float | None = None,
        revoke_once: bool = True,
    ) -> None:
        """Revoke one call by task id: when it comes up it is skipped (SIGNAL_REVOKED)
        instead of run.

        Options:
          revoke_until: a datetime or epoch seconds after which the revocation
            lapses. Default None (no end).
          revoke_once: recorded for huey compatibility (hueyctl shows it); a
            revocation by id is spent when its call is skipped either way.
            Default True.
        """
        self._revoke(REVOKE_ID + task_id, revoke_until, revoke_once)

    def restore_by_id(self, task_id: str) -> bool:
        """Lift the revocation of one call by task id; whether it was revoked."""
        return self.revocations.delete(REVOKE_ID + task_id)

    def revoke(
        self,
        task: Task | Result,
        revoke_until: dt.datetime | float | None = None,
        revoke_once: bool = False,
    ) -> None:
        """Revoke one call, given as its Task or Result (options as revoke_by_id())."""
        self.revoke_by_id(task.id, revoke_until, revoke_once)

    def restore(self, task: Task | Result) -> bool:
        """Lift the revocation of one call, given as its Task or Result; whether it was revoked."""
        return self.restore_by_id(task.id)

    def revocation(self, key: str, now: float | None = None) -> dict[str, Any] | None:
        """The revocation record at ``key`` if in force at ``now``."""
        return self.revocations.record(key, now)

    def is_revoked(
        self,
        target: Task | Result | TaskWrapper | str,
        timestamp: dt.datetime | float | None = None,
        peek: bool = True,
    ) -> bool:
        """Whether a call (Task/Result), a whole task (wrapper or name) or an id is
        revoked now, or at timestamp (a datetime, naive in the queue's utc mode, or
        epoch seconds). peek=False spends a revoke_once, as in huey."""
        if isinstance(target, (Task, Result)):
            task = target if isinstance(target, Task) else target.task
            keys = list(call_keys(task.id, task.registered_name))
        elif isinstance(target, TaskWrapper) or target in self._registry:
            keys = [REVOKE_TASK + _name(target)]
        else:
            keys = list(call_keys(target, target))  # an id, or a task name
        now = None if timestamp is None else self.to_timestamp(timestamp)
        return self.revocations.any_in_force(keys, now, peek)

    def consume_revocation(self, task: Task, now: float) -> bool:
        """At execution: is this call revoked? Spends a once-only revocation."""
        return self.revocations.consume(task.id, task.registered_name, now)

    def reschedule(
        self,
        result: Result,
        eta: dt.datetime | float | None,
        delay: float | dt.timedelta | None,
        expires: float | dt.timedelta | dt.datetime | None,
        priority: int | None,
        preserve_pipeline: bool,
    ) -> Result:
        """Revoke the call behind result and enqueue a copy with a new id; returns the
        copy's Result. Use Result.reschedule(), which documents the options.
        """
        result.revoke()
        task = result.task.with_new_id()
        if not preserve_pipeline:
            task.on_complete = task.on_error = None
        task.due_at = None if eta is None and delay is None else self.resolve_eta(eta, delay)
        if priority is not None:
            task.priority = priority
        if expires is not None:
            task.expires = None
            self.set_expiry(task, expires)
        self.enqueue(task)
        return Result(self, task)

    # --- locks and rate limits -------------------------------------------------------------
    def is_cancelled(self) -> bool:
        """Inside a running task: whether it was cancelled (``hueyctl cancel``), so it
        should stop now (return or raise; it ends as cancelled either way). Its next
        lock, rate limit or result wait raises TaskCancelled. False anywhere else."""
        return cancellation.is_cancelled()

    def lock_task(self, lock_name: str, ttl: float | None = None) -> TaskLock:
        """A named lock shared by every process on this queue's store, used as a
        context manager (with huey.lock_task("name"):) or a decorator. Entering
        while someone else holds it raises TaskLockedException, which a task counts
        as a failure (and retries if it has retries). ttl is how many seconds the
        lock lasts at most, so a crashed holder cannot keep it forever; None holds
        it until released. Default None.
        """
        return TaskLock(lambda: self.storage, lock_key(lock_name), ttl)

    def is_locked(self, lock_name: str) -> bool:
        """Whether the named task lock is held now."""
        return self.storage.peek(lock_key(lock_name)) is not None

    def flush_locks(self, *names: str) -> set[str]:
        """Clear the named locks (all locks when none are named); return those cleared."""
        return flush_locks(self.storage, names)

    def rate_limit(self, name: str, limit: int, per: float, retry: bool = True) -> RateLimit:
        """At most ``limit`` calls per ``per`` seconds (fixed windows), across workers.

        Over the limit, :class:`RateLimitExceeded` is raised; with ``retry=True`` the
        worker retries the task when the window ends, without spending a retry."""
        return RateLimit(lambda: self.storage, name, limit, per, retry)

    # --- admin actions (what hueyctl and top do) ------------------------------------------
    def enqueue_by_name(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        eta: dt.datetime | float | None = None,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        retries: int | None = None,
    ) -> Result:
        """Enqueue a call by task name: works without the application's code (the
        registered task's defaults apply when it is known here)."""
        wrapper = self._registry.get(name)
        task = Task(name=name, args=tuple(args), kwargs=dict(kwargs or {})).mint()
        if wrapper is not None:
            task = self.new_call(wrapper.spec, args, kwargs, retries=retries, priority=priority)
        elif retries is not None:
            task.retries = retries
        else:
            task.defaults = True
        if priority is not None:
            task.priority = priority
        if eta is not None or delay is not None:
            task.due_at = self.resolve_eta(eta, delay)
        self.enqueue(task)
        return Result(self, task)

    def replay(self, records: Sequence[Any]) -> list[str]:
        """Enqueue task records as they are (``hueyctl enqueue --from``, a dead-letter
        export): each keeps its id, args, kwargs and options exactly, its ``sig`` is
        dropped and it is signed with this queue's key (see ``Envelope.reseal``).
        Every record is checked before any is written: CodecError for a bad one,
        ConfigurationError (nothing written) when one's id is running now."""
        messages = [Message(*self.envelope.reseal(rec)) for rec in records]
        self.storage.enqueue(messages)
        return [m.id for m in messages]

    def retry_failed(self, task_id: str) -> bool:
        """Put a dead letter back on the queue, and say so in the event stream
        (``retried``). A letter a worker dead-lettered gets its task's retries again
        and counts on from its last attempt (the worker kept it so)."""
        found = self.storage.locate(task_id)
        if not self.storage.retry_dead(task_id):
            return False
        name = readable(found.data, task_id).get("task") if found is not None else None
        try:
            operator_event(self.storage, "retried", task_id, str(name or "?"), time.time())
        except EngineError as exc:  # the retry is done; only its event is missing
            log.warning("task %s retried, but its event was not written: %s", task_id, exc)
        return True

    def retry_failed_many(self, task_ids: Sequence[str]) -> int:
        """Put dead letters back on the queue (one round trip on Redis); how many were."""
        return self.storage.retry_dead_many(task_ids)

    def delete_tasks(self, task_ids: Sequence[str]) -> int:
        """Delete ready, scheduled or dead tasks (one round trip on Redis); how many."""
        return self.storage.remove_many(task_ids)

    def delete_task(self, task_id: str) -> bool:
        """Delete a ready, scheduled or dead task (a running one cannot be deleted)."""
        return self.storage.remove(task_id)

    def purge(self, what: str) -> int:
        """Delete every ``pending``/``ready``, ``scheduled``, ``failed``/``dead`` task,
        or every ``results`` entry; returns how many."""
        state = {"pending": "ready", "failed": "dead"}.get(what, what)
        if state == "results":
            return self.storage.flush_keys(RESULT)
        return self.storage.flush(state)

    def migrate_store(self, dry_run: bool = False) -> Migration | None:
        """Convert the queue from an earlier release's store layout, keeping every task
        (``hueyctl migrate``); ``dry_run``: only count. See Storage.migrate."""
        return self.storage.migrate(dry_run)

    # --- inspection helpers (the read model lives in engine.inspect) -----------------------
    def pending_count(self) -> int:
        """How many tasks are ready to run (not scheduled, not running)."""
        return self.storage.counts().ready

    def scheduled_count(self) -> int:
        """How many tasks are scheduled for later."""
        return self.storage.counts().scheduled

    __len__ = pending_count

    def pending(self, limit: int | None = None) -> list[Task]:
        """The ready tasks in the order they will be claimed, decoded (this needs the
        queue's codec and signing key). limit caps how many; None means all. For
        large queues use engine.inspect.Inspector, which pages and never unpickles.
        """
        return [
            self.envelope.decode(m.data, m.id) for m in self.storage.ready_items(0, limit or 10**9)
        ]

    def scheduled(self, limit: int | None = None) -> list[Task]:
        """The scheduled tasks by eta, decoded; limit caps how many (None means all)."""
        items = self.storage.scheduled_items(0, limit or 10**9)
        return [self.envelope.decode(m.data, m.id) for m, _ in items]

    def all_results(self) -> dict[str, Any]:
        """Every stored result (and put() entry) by key, decoded, without removing any."""
        out = {}
        for key in self.storage.keys(RESULT):
            data = self.storage.peek(key)
            if data is not None:
                out[key[len(RESULT) :]] = self.decode_value(data)
        return out

    def flush(self) -> None:
        """Delete everything this queue holds: tasks, results, revocations, locks."""
        self.storage.destroy()

    # --- consuming ---------------------------------------------------------------------------
    def create_consumer(self, **options: Any) -> Consumer | Supervisor:
        """A consumer of this queue's tasks, to run() in this process; options are the
        fields of engine.consumer.ConsumerSettings (workers, worker_type, periodic,
        ..., and huey's other consumer options, some of them no-ops there). With
        worker_type="process", a Supervisor of that many worker processes (locks are
        flushed once, here). hueyctl worker is the usual way to run one.
        """
        if options.get("worker_type") != "process":
            return Consumer(self, **options)
        ConsumerSettings.check_options(options)
        options = {k: v for k, v in options.items() if k != "worker_type"}
        processes = options.pop("workers", 1)
        interval = options.pop("health_check_interval", _CONSUMER.health_check_interval)
        extra, flush_all = options.pop("extra_locks", None), options.pop("flush_locks", False)
        if extra:
            self.flush_locks(*extra)
        if flush_all:
            self.flush_locks()
        options.pop("inline", None)
        ConsumerSettings(inline=True, worker_type="process", **options)  # refuse bad values now
        return Supervisor(self, processes, check_interval=interval, **options)


_CONSUMER = ConsumerSettings()  # the consumer's defaults


def _code(func: Callable[..., Any]) -> Any:
    return getattr(inspect.unwrap(func), "__code__", func)


def _name(target: str | TaskWrapper) -> str:
    return target.name if isinstance(target, TaskWrapper) else target


class MemoryHuey(Huey):
    """A queue in this process's memory: nothing survives the process and no other
    process sees it. For tests and immediate mode; same options as Huey.
    """

    storage_class = MemoryStorage


class BlackHoleHuey(Huey):
    """A queue that drops every task and result (huey's BlackHoleHuey): enqueueing
    succeeds, nothing runs, nothing is kept. For tests; same options as Huey."""

    storage_class = BlackHoleStorage


class RedisHuey(Huey):
    """A queue on Redis, the production store. Options as Huey, plus the store's:
    url= (redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://),
    or connection_pool= or client=, or redis-py connection keywords (host,
    port, db, password ...), client_name, dead_cap and dead_cap_bytes (how many
    dead letters, and how many bytes of their bodies, are kept: 10000 and 32 MiB),
    and lease_clock ("server", the default: leases on the Redis server's clock;
    "caller": on each worker's); durable=True (with durable_timeout, seconds, default
    1) makes each enqueue, schedule and finish wait for a replica (WAIT 1);
    reply_spin (seconds, default 0.0001; 0: off) is how long a single enqueue polls
    for its reply before sleeping on it (faster where idle CPUs halt). huey's
    blocking, read_timeout, notify_result, notify_result_ttl and clean_name are
    accepted as no-ops; any other keyword raises ConfigurationError. Every Redis
    queue supports priorities, so PriorityRedisHuey is the same class.
    """

    def __init__(self, name: str = "huey", *args: Any, **kwargs: Any) -> None:
        from .storage.redis import RedisStorage

        kwargs.setdefault("storage_class", RedisStorage)
        super().__init__(name, *args, **kwargs)


class SqliteHuey(Huey):
    """A queue in one SQLite file, shared by the processes of one machine. Options
    as Huey, plus the store's: filename (default "hueyctl.db"), timeout (seconds
    to wait for a lock, default 10), journal_mode (default "wal"), fsync
    (default None: synchronous=NORMAL; True: FULL), cache_mb (default 8),
    create_tables (default True), strict_fifo (a no-op), dead_cap and
    dead_cap_bytes (how many dead letters, and bytes of their bodies, are kept:
    10000 and 32 MiB).
    """

    def __init__(self, name: str = "huey", *args: Any, **kwargs: Any) -> None:
        from .storage.sqlite import SqliteStorage

        kwargs.setdefault("storage_class", SqliteStorage)
        super().__init__(name, *args, **kwargs)


class RedisExpireHuey(RedisHuey):
    """huey's Redis queue whose results expire (``expire_time`` seconds, default a day)."""

    def __init__(
        self, name: str = "huey", *args: Any, expire_time: float = 86400, **kwargs: Any
    ) -> None:
        kwargs.setdefault("result_ttl", expire_time)
        super().__init__(name, *args, **kwargs)


# Every Redis queue here supports priorities, so huey's priority variants are aliases.
PriorityRedisHuey = RedisHuey
PriorityRedisExpireHuey = RedisExpireHuey


def connect(url: str, queue: str = "huey") -> Huey:
    """A queue from a URL, without the application's code.

    ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS), ``unix:///path``,
    ``redis+cluster://node:port`` (Redis Cluster), ``redis+sentinel://host:26379/master``,
    ``sqlite:///relative.db`` or ``sqlite:////absolute.db``, and ``memory://``. Redis URLs
    carry their ACL user, password and TLS options (``?ssl_ca_certs=...``), Sentinel URLs
    the sentinels' own too (``sentinel_password=`` ...): see docs/security.md.
    """
    kind = store_kind(url)
    if kind == "redis":
        return RedisHuey(queue, url=url)
    if kind == "sqlite":
        path = sqlite_path(url)
        if not path:
            raise ConfigurationError(f"invalid SQLite URL {url!r}: use sqlite:///path/to/file.db")
        return SqliteHuey(queue, filename=path)
    if kind == "memory":
        return MemoryHuey(queue)
    raise ConfigurationError(f"unsupported store URL {mask_url(url)!r}: use {SCHEMES_HELP}")
