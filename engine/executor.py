"""Running one claimed task, and committing the outcome it leaves behind.

:meth:`Executor.run` turns a claimed message into exactly one ``storage.finish``
call whose :class:`Outcome` holds everything the execution produced (result,
retry, next pipeline stage, dead letter), so a crash at any point either leaves
the task running (to be recovered and delivered again) or fully done. The
rules that decide the outcome are pure functions in ``engine.outcome``; this
module does the rest: decode → skip? → run under the timeout guard → outcome →
commit → after-commit (chord report, post-execute hooks, counters, signal).

A message that cannot be decoded, or names a task this process does not know,
is dead-lettered with the reason instead of crashing the worker.

Runtime floor: it works on a :class:`~engine.core.QueueCore` and never imports
the facade (``engine.api``), which is what lets immediate mode import it.
"""

from __future__ import annotations

import enum
import json
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from types import CoroutineType
from typing import Any, Final, Literal, TypeVar

from . import cancellation
from . import outcome as rules
from .core import QueueCore
from .coro import run_coroutine
from .exceptions import (
    CancelExecution,
    CodecError,
    RateLimitExceeded,
    RetryTask,
    StoreDenied,
    StoreError,
    StoreUnavailable,
    TaskCancelled,
    TaskLockedException,
    TaskTimeout,
    store_fault,
)
from .keys import chord_counter, chord_fired, chord_member
from .outcome import (
    CHORD_TTL,
    REASON_FAILED,
    REASON_MALFORMED,
    REASON_REFUSED,
    REASON_UNKNOWN,
    extend_args,
)
from .signals import (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ENQUEUED,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_LOCKED,
    SIGNAL_RATE_LIMITED,
    SIGNAL_RETRYING,
    SIGNAL_REVOKED,
    SIGNAL_SCHEDULED,
    SIGNAL_TIMEOUT,
)
from .storage.base import (
    FINISHED_BODY_MAX,
    NOT_RUNNING,
    Claimed,
    Outcome,
    Storage,
    finished_record,
)
from .task import ATTEMPTS_KEPT, Task, TaskSpec, error_metadata

__all__ = [
    "CHORD_TTL",
    "PENDING",
    "REASON_FAILED",
    "REASON_MALFORMED",
    "REASON_UNKNOWN",
    "Committer",
    "Executor",
    "StoreHealth",
    "error_metadata",
    "extend_args",
    "retry_while_unavailable",
]

log = logging.getLogger("huey.executor")

T = TypeVar("T")


def retry_while_unavailable(fn: Callable[[], T], budget: float) -> T:
    """``fn()``, tried again with a growing pause while the store is unreachable (or
    refuses the command to this user, which an operator may be fixing), for up to
    ``budget`` seconds (a lease: after that the task belongs to recovery)."""
    deadline, pause = time.monotonic() + budget, 0.05
    while True:
        try:
            return fn()
        except (StoreUnavailable, StoreDenied):
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)  # probe often: resume soon after it answers


class StoreHealth:
    """What a consumer's threads know of the store: ``ok``, ``transient`` (unreachable,
    loading, read-only, busy, cluster down), ``full`` (out of memory: claim no new work,
    keep finishing), ``denied`` (a permission is missing), ``refused`` (another refusal)
    or ``error`` (a bug). One log line per change of state, never one per attempt; back
    to ``ok`` only when the store really answered (and, from ``full``, took a write)."""

    #: Seconds between attempts in each state: a transient fault is probed often, so work
    #: resumes within about this long of the store answering again.
    PAUSE = {"ok": 0.0, "transient": 0.25, "full": 1.0, "denied": 2.0, "refused": 2.0}
    _AGAIN = {
        "transient": "store reachable again",
        "full": "store accepts writes again",
        "denied": "store allows our commands again",
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "ok"
        self.since = 0.0  # time.monotonic() when it left ok
        self._told = ""

    def pause(self) -> float:
        return self.PAUSE.get(self.state, 1.0)

    def failed(self, exc: BaseException) -> None:
        """Note an error met on a store call (any error: none ends a loop)."""
        kind = store_fault(exc) or "error"
        text = str(exc) or type(exc).__name__
        with self._lock:
            if kind == "transient" and self.state == "full":
                return  # the full store answered a drain but not this: keep saying "full"
            changed = kind != self.state
            if changed and self.state == "ok":
                self.since = time.monotonic()
            if not changed and (kind not in ("denied", "refused", "error") or text == self._told):
                return  # said already (a new command denied is said again)
            self.state, self._told = kind, text
        if kind == "transient":
            log.error("%s; retrying until it answers", text)
        elif kind == "full":
            log.warning(
                "%s; claiming no new work until it accepts writes (running tasks finish)", text
            )
        elif kind == "error":
            log.error("unexpected error (retrying): %s", text, exc_info=exc)
        else:
            log.error("%s; retrying every %.0fs", text, self.pause())

    def answered(self, wrote: bool = False) -> None:
        """A store call just succeeded. ``full`` and ``denied`` end only when a whole beat
        did (``wrote``: it wrote the registry entry and telemetry with all its commands),
        so two threads meeting different commands do not flip the state back and forth."""
        with self._lock:
            state = self.state
            if state == "ok" or (state in ("full", "denied") and not wrote):
                return
            self.state, self._told = "ok", ""
        took = time.monotonic() - self.since
        log.warning("%s after %.1fs", self._AGAIN.get(state, "store works again"), took)


Then = Callable[[str | None, BaseException | None], None]


class Committer:
    """Sends the finishes of a consumer's worker threads to the store in batches:
    whatever finishes while one batch is on the wire goes in the next, so under
    load many tasks share one round trip, and alone a task waits for no one.

    ``submit`` does not wait: the worker thread goes on to its next task and the
    callback runs here once the outcome is committed (the task stays running in
    the store until then, so nothing is lost if we die first). While the store is
    unreachable a batch is retried, for up to a lease.

    ``submit(..., inline=True)`` commits on the calling thread instead when nothing
    is on the wire nor waiting (a lone task: no batch to join, and no hand-off to
    this thread on its way to the store); under load it queues as above."""

    def __init__(self, storage: Callable[[], Storage], consumer_id: str, lease: float) -> None:
        self._storage, self.consumer_id, self.lease = storage, consumer_id, lease
        self._queue: queue.SimpleQueue[tuple[str, float, Outcome, Then] | None]
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight = 0  # batches being committed: this thread's, or one inline
        self._thread = threading.Thread(target=self._loop, name="committer", daemon=True)
        self._thread.start()

    def submit(
        self, task_id: str, now: float, outcome: Outcome, then: Then, inline: bool = False
    ) -> None:
        """Commit in the background (``then`` is called once it is); with ``inline``,
        on this thread, before returning, when no other commit is on its way."""
        item = (task_id, now, outcome, then)
        if inline:
            with self._lock:
                inline = self._in_flight == 0 and self._queue.empty()
                if inline:
                    self._in_flight += 1
        if not inline:
            self._queue.put(item)
            return
        try:
            self._send([item])
        finally:
            with self._lock:
                self._in_flight -= 1

    def finish(self, task_id: str, now: float, outcome: Outcome) -> str | None:
        done: Future[str | None] = Future()

        def then(refused: str | None, exc: BaseException | None) -> None:
            if exc is None:
                done.set_result(refused)
            else:
                done.set_exception(exc)

        self.submit(task_id, now, outcome, then, inline=True)
        return done.result()

    def close(self) -> None:
        self._queue.put(None)

    def _batch(
        self, first: tuple[str, float, Outcome, Then]
    ) -> list[tuple[str, float, Outcome, Then]]:
        batch = [first]
        while len(batch) < 200:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _commit(self, batch: list[tuple[str, float, Outcome, Then]]) -> list[str | None]:
        items = [(t, n, o) for t, n, o, _ in batch]
        try:
            return retry_while_unavailable(
                lambda: self._storage().finish_many(self.consumer_id, items), self.lease
            )
        except StoreError as exc:
            if store_fault(exc) != "refused":
                raise
            # The store refused the batch (a result over its limits, ...): find the task
            # it refuses, one by one, so its neighbours commit and none runs twice.
            storage = self._storage()
            return [
                commit_alone(storage, self.consumer_id, t, n, o, self.lease) for t, n, o in items
            ]

    def _send(self, batch: list[tuple[str, float, Outcome, Then]]) -> None:
        """Commit a batch, then tell each of its callbacks how it went."""
        try:
            refusals = self._commit(batch)
        except BaseException as exc:
            for *_, then in batch:
                _call(then, None, exc)
        else:
            for (*_, then), refused in zip(batch, refusals, strict=True):
                _call(then, refused, None)

    def _loop(self) -> None:
        while (first := self._queue.get()) is not None:
            with self._lock:
                self._in_flight += 1
            try:
                self._send(self._batch(first))
            finally:
                with self._lock:
                    self._in_flight -= 1


def commit_alone(
    storage: Storage, consumer: str, task_id: str, now: float, outcome: Outcome, lease: float
) -> str | None:
    """Finish one task; an outcome the store refuses (a result over its limits ...) is
    replaced by a dead letter with the reason, so the task never loops through recovery.
    Returns None, or why the finish was not committed as given."""
    try:
        return retry_while_unavailable(
            lambda: storage.finish(consumer, task_id, now, outcome), lease
        )
    except StoreError as exc:
        if store_fault(exc) != "refused":
            raise
        reason = f"the store refused its outcome: {exc}"
        log.error("task %s set aside: %s", task_id, reason)
        dead = Outcome(dead=(REASON_REFUSED, reason))
        refused = retry_while_unavailable(
            lambda: storage.finish(consumer, task_id, now, dead), lease
        )
        return refused or f"dead-lettered ({REASON_REFUSED}): {reason}"


def _summary(exc: BaseException) -> str:
    """One attempt's error in its history: short, as the event stream shows errors."""
    return repr(exc)[:200]


def _call(then: Then, refused: str | None, exc: BaseException | None) -> None:
    try:
        then(refused, exc)
    except Exception:
        log.exception("after-commit callback failed")


class _Handed(enum.Enum):
    PENDING = "pending commit"


# What the inner run returns when it handed the outcome to the committer: neither
# "committed" (None) nor a refusal reason (str).
PENDING: Final = _Handed.PENDING
Status = str | None | Literal[_Handed.PENDING]


_OWN_LOG = (RetryTask, RateLimitExceeded, CancelExecution, TaskLockedException)


def _took(task: Task) -> str:
    seconds = task.runtime or 0.0
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _log_failure(task: Task, exc: Exception, tb: str, again: Task | None, now: float) -> None:
    """One line for a failure that will be retried (warning), one with the traceback
    for a final one (error); the kinds announced on their own are left alone."""
    if isinstance(exc, _OWN_LOG):
        return
    what = "timed out" if isinstance(exc, TaskTimeout) else "failed"
    name, tid = task.registered_name, task.id
    if again is not None:
        when = "" if again.due_at is None else f", in {max(0.0, again.due_at - now):.0f}s"
        log.warning(
            "task %s %s %s after %s (attempt %d), retrying (%d left%s): %r",
            *(name, tid, what, _took(task), task.attempt, again.retries, when, exc),
        )
        return
    log.error(
        "task %s %s %s after %s (attempt %d), no retries left: %r\n%s",
        *(name, tid, what, _took(task), task.attempt, exc, tb.rstrip()),
    )


class Executor:
    """Executes tasks for one consumer id; ``step(now)`` claims and runs one.

    Thread-safe: the consumer's worker threads share one Executor. ``current``
    maps the ids running now to (task name, start time) for the registry.
    """

    def __init__(
        self,
        huey: QueueCore,
        consumer_id: str,
        lease: float = 30.0,
        clock: Callable[[], float] = time.time,
        timeout_guard: Callable[[float | None], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.huey = huey
        self.consumer_id = consumer_id
        self.lease = lease
        self.clock = clock
        # Enforces task.timeout around the call (SIGALRM in process workers);
        # threads cannot be interrupted, so there the timeout is cooperative.
        self.timeout_guard = timeout_guard or (lambda seconds: nullcontext())
        self.processed = 0
        self.failed = 0
        self.current: dict[str, tuple[str, float]] = {}
        self.committer: Committer | None = None  # set by a consumer with several threads
        #: Whether the call finishing now is the only one this consumer holds (claimed
        #: or running): then a task thread commits it itself (``Committer.submit``).
        self.alone: Callable[[], bool] = lambda: len(self.current) <= 1
        #: Told (event, task, error) of what no signal says: "dead" (a task just went
        #: to the dead letters). The consumer's telemetry writes it to the event stream.
        self.notify: Callable[[str, Task, str | None], None] | None = None
        self._lock = threading.Lock()
        # One line per task start and finish (``hueyctl worker -v``): decided once, as
        # logging is set up before the consumer is made, so a task pays no logging call.
        self.trace = log.isEnabledFor(logging.DEBUG)
        self._worker = json.dumps(consumer_id).encode()  # as the finished records hold it

    @property
    def storage(self) -> Storage:
        return self.huey.storage

    def running(self) -> dict[str, tuple[str, float]]:
        """A snapshot of ``current`` (for the registry record)."""
        with self._lock:
            return dict(self.current)

    def step(self, now: float) -> bool:
        """Claim one ready task and run it; False when the queue was empty."""
        claimed = self.storage.claim(self.consumer_id, now, 1, self.lease)
        for item in claimed:
            self.run(item)
        return bool(claimed)

    # --- one task ------------------------------------------------------------
    def run(self, claimed: Claimed, done: Callable[[], None] | None = None) -> str | None:
        """Execute a claimed task; returns None, or why its finish was refused.

        With ``done`` and a committer, the outcome is committed in the background
        and ``done()`` is called once it is (else before returning)."""
        status: Status = None
        try:
            status = self._run(claimed, done)
            return None if status is PENDING else status
        finally:
            if done is not None and status is not PENDING:
                done()

    def _run(self, claimed: Claimed, done: Callable[[], None] | None) -> Status:
        prepared = self.prepare(claimed)
        if not isinstance(prepared, tuple):
            return prepared
        return self.execute(*prepared, done)

    def execute(
        self, spec: TaskSpec, task: Task, data: bytes, done: Callable[[], None] | None
    ) -> Status:
        """Run a prepared call on this thread and commit its outcome (see ``run``)."""
        # One dict operation each, atomic under the GIL: no lock per task (``running``
        # copies the dict in one C call too).
        current = self.current
        current[task.id] = (task.registered_name, self.clock())
        try:
            return self._execute(spec, task, data, done)
        finally:
            current.pop(task.id, None)

    def prepare(self, claimed: Claimed) -> tuple[TaskSpec, Task, bytes] | str | None:
        """The claimed message decoded, with its registered spec and its bytes (its
        finished record keeps them); or, for a message
        that cannot be run (malformed, unknown task), what dead-lettering it returned."""
        try:
            task = self.huey.envelope.decode(claimed.data, claimed.id)
        except Exception as exc:  # CodecError, or a record of the wrong shape
            error = str(exc) if isinstance(exc, CodecError) else f"{type(exc).__name__}: {exc}"
            log.error("task %s set aside: %s", claimed.id, error)
            return self._finish(claimed.id, Outcome(dead=(REASON_MALFORMED, error)))
        spec = self.huey.registry.get(task.registered_name)
        if spec is None:
            error = f"no task named {task.registered_name!r} is registered in this worker"
            log.error("task %s set aside: %s", claimed.id, error)
            return self._finish(claimed.id, Outcome(dead=(REASON_UNKNOWN, error)))
        task.apply_defaults(spec)
        task.name = spec.label or task.name  # as huey shows it to hooks and the task
        if task.history and task.history[-1].get("n") == task.attempt:
            task.attempt += 1  # a dead letter put back: its last attempt is in its history
        return spec, task, claimed.data

    def _finish(self, task_id: str, outcome: Outcome) -> str | None:
        """Commit the outcome, retrying while the store is unreachable for up to a lease."""
        committer = self.committer

        def commit() -> str | None:
            if committer is not None:
                return committer.finish(task_id, self.clock(), outcome)
            return commit_alone(
                self.storage, self.consumer_id, task_id, self.clock(), outcome, self.lease
            )

        refused = retry_while_unavailable(commit, self.lease)
        if refused:
            log.warning("result of task %s not committed: %s", task_id, refused)
        return refused

    def end_cancelled(self, task: Task, data: bytes) -> str | None:
        """End a cancelled call that did not stop in time (a process worker about to be
        killed), from another thread: committed as if it raised TaskCancelled (its
        finished record written from ``data``, the claimed message)."""
        spec = self.huey.spec(task.registered_name)
        if spec is None:
            return NOT_RUNNING
        task.apply_defaults(spec)
        exc = TaskCancelled(cancellation.cancelled_message(task))
        self.huey.signals.send(SIGNAL_CANCELED, task)
        outcome = self._failed(spec, task, exc, "", self.clock(), data)
        refused = commit_alone(
            self.storage, self.consumer_id, task.id, self.clock(), outcome, self.lease
        )
        self._after_finish(task, outcome, refused)
        return refused

    def _skip_reason(self, task: Task, now: float) -> str | None:
        if self.huey.revocations.consume(task.id, task.registered_name, now):
            return SIGNAL_REVOKED
        if task.expires is not None and now > task.expires:
            return SIGNAL_EXPIRED
        return None

    def _skip(
        self, task: Task, signal: str, data: bytes, outcome: Outcome | None = None
    ) -> str | None:
        self.huey.signals.send(signal, task)
        outcome = outcome or rules.skipped(task)
        if not rules.retried(outcome, task.id):
            head = self._head(task, None, signal)
            outcome = replace(outcome, finished=finished_record(head, data))
        refused = self._finish(task.id, outcome)
        self._after_finish(task, outcome, refused)
        self._enqueued(outcome, refused)
        return refused

    def _enqueued(self, outcome: Outcome, refused: str | None) -> None:
        """After the commit, as huey: ENQUEUED for each call the outcome enqueued (a
        retry, the next pipeline stage, an error handler), SCHEDULED for each it
        scheduled (a delayed retry). Decoded only when someone listens."""
        if refused or not (outcome.enqueue or outcome.schedule):
            return
        signals, decode = self.huey.signals, self.huey.envelope.decode
        for signal, messages in (
            (SIGNAL_ENQUEUED, outcome.enqueue),
            (SIGNAL_SCHEDULED, [m for m, _ in outcome.schedule]),
        ):
            if messages and signals.connected(signal):
                for msg in messages:
                    try:
                        signals.send(signal, decode(msg.data, msg.id))
                    except Exception:  # our own message: never expected
                        log.exception("could not send %s for task %s", signal, msg.id)

    def _retrying(self, decided: tuple[Outcome, Task | None]) -> Outcome:
        outcome, again = decided
        if again is not None:
            self.huey.signals.send(SIGNAL_RETRYING, again)
        return outcome

    def _execute(
        self, spec: TaskSpec, task: Task, data: bytes, done: Callable[[], None] | None
    ) -> Status:
        skip = self.preflight(task)
        if skip is not None:
            return self._skip(task, skip[0], data, skip[1])
        started = self.begin(task)
        value: Any = None
        exception: Exception | None = None
        tb = ""
        try:
            kwargs = dict(task.kwargs, task=task) if spec.context else task.kwargs
            outer = cancellation.enter(task)
            try:
                if spec.is_async:  # on this thread's own loop; cancelled at the timeout
                    value = run_coroutine(spec.func(*task.args, **kwargs), task.timeout)
                elif not task.timeout:  # nothing to guard: no context manager per call
                    value = spec.func(*task.args, **kwargs)
                    if type(value) is CoroutineType:
                        value = run_coroutine(value, task.timeout)
                else:
                    with self.timeout_guard(task.timeout):
                        value = spec.func(*task.args, **kwargs)
                    if type(value) is CoroutineType:  # a plain def that returned a coroutine
                        value = run_coroutine(value, task.timeout)
            finally:
                cancellation.leave(outer)
        except Exception as exc:
            exception, tb = exc, traceback.format_exc()
        except BaseException as exc:  # sys.exit() in a task: a failure, not our exit
            exception = RuntimeError(f"task raised {exc!r}").with_traceback(exc.__traceback__)
            tb = traceback.format_exc()
        # A task thread may wait for its own commit (the caller of conclude on an event
        # loop may not): alone, that saves handing the outcome to the committer thread.
        return self.conclude(spec, task, data, started, value, exception, tb, done, inline=True)

    def preflight(self, task: Task) -> tuple[str, Outcome | None] | None:
        """Why the call is not run: (the signal, the outcome to commit; None is the
        plain skip), or None to run it. Runs the pre-execute hooks."""
        huey = self.huey
        now = self.clock()
        skipped = self._skip_reason(task, now)
        if skipped:
            return skipped, None
        cancel = huey.run_pre_execute(task)
        if cancel is not None:
            return SIGNAL_CANCELED, self._retrying(rules.cancelled(huey, task, cancel.retry, now))
        return None

    def skip(
        self, task: Task, signal: str, data: bytes, outcome: Outcome | None = None
    ) -> str | None:
        """Commit a call that is not run (``preflight`` said why), and say so."""
        return self._skip(task, signal, data, outcome)

    def begin(self, task: Task) -> float:
        """The call starts now: EXECUTING sent, its deadline set; returns the start
        (``time.monotonic()``) for ``conclude``."""
        self.huey.signals.send(SIGNAL_EXECUTING, task)
        if self.trace:
            log.debug(
                "task %s %s started (attempt %d)", task.registered_name, task.id, task.attempt
            )
        started = time.monotonic()
        if task.timeout:
            task.deadline = started + task.timeout
        self.huey.in_flight[task.id] = task
        return started

    def conclude(
        self,
        spec: TaskSpec,
        task: Task,
        data: bytes,
        started: float,
        value: Any,
        exception: Exception | None,
        tb: str,
        done: Callable[[], None] | None,
        inline: bool = False,
    ) -> Status:
        """The call returned ``value`` or raised ``exception``: decide its outcome and
        commit it (in the background, with ``done`` and a committer: PENDING; with
        ``inline`` too, on this thread when the committer has nothing on its way)."""
        huey = self.huey
        huey.in_flight.pop(task.id, None)
        task.runtime = time.monotonic() - started
        if task.cancelled and not isinstance(exception, TaskCancelled):
            # Cancelled (hueyctl cancel): it ends so however it stopped, never retried.
            exception, tb = TaskCancelled(cancellation.cancelled_message(task)), ""
        end = self.clock()
        began = end - task.runtime  # the start on the clock the records use
        try:
            if exception is None:
                if task.history is None and task.attempt == 1:
                    record = self._record_ok(task, end, data)
                else:
                    record = finished_record(self._head(task, began, "complete", end=end), data)
                outcome = rules.success(huey, spec, task, value, end, record)
        except Exception as exc:  # e.g. a return value the codec cannot encode
            exception, tb = exc, traceback.format_exc()
        if exception is None:
            if self.trace:
                log.debug("task %s %s done in %s", task.registered_name, task.id, _took(task))
        else:
            self._announce(task, exception)
            outcome = self._failed(spec, task, exception, tb, began, data)
        if done is not None and self.committer is not None:

            def then(refused: str | None, exc: BaseException | None) -> None:
                try:
                    if exc is not None:
                        log.error("could not commit task %s: %s", task.id, exc)
                    else:
                        if refused:
                            log.warning("result of task %s not committed: %s", task.id, refused)
                        self._completed(task, outcome, refused, value, exception)
                finally:
                    done()

            # Inline only for a task alone here: beside others (claimed, running), its
            # finish is likely to share a batch with theirs (fewer round trips).
            alone = inline and self.alone()
            self.committer.submit(task.id, self.clock(), outcome, then, alone)
            return PENDING
        refused = self._finish(task.id, outcome)
        self._completed(task, outcome, refused, value, exception)
        return refused

    def track(self, task: Task) -> None:
        """Count the call as running (the registry's ``current``) until ``untrack``."""
        with self._lock:
            self.current[task.id] = (task.registered_name, self.clock())

    def untrack(self, task: Task) -> None:
        """The call is no longer running here."""
        with self._lock:
            self.current.pop(task.id, None)

    # --- what a task leaves for `hueyctl show`: its finished record, its attempt history ---
    def _record_ok(self, task: Task, end: float, data: bytes) -> bytes:
        """The finished record of a call that succeeded at its first attempt: the hot
        path, one bytes formatting, as short as it can be (readers take ``state``
        complete, ``attempt`` 1 and ``started`` = ``at - runtime`` as left out, and the
        name from the message; only a message too big to keep leaves its name here)."""
        if len(data) > FINISHED_BODY_MAX:
            return finished_record(self._head(task, None, "complete", end=end), data)
        runtime, ttl = task.runtime or 0.0, self.huey.result_ttl
        if ttl is None:
            return b'{"at":%.6f,"runtime":%.6f,"worker":%s}\n%s' % (
                end,
                runtime,
                self._worker,
                data,
            )
        return b'{"at":%.6f,"expires":%.6f,"runtime":%.6f,"worker":%s}\n%s' % (
            end,
            end + ttl,
            runtime,
            self._worker,
            data,
        )

    def _head(
        self,
        task: Task,
        started: float | None,
        state: str,
        error: str | None = None,
        end: float | None = None,
    ) -> bytes:
        """The head of a finished record (JSON, see docs/design.md): how the call ended
        (state: the signal, e.g. complete, error, revoked), when, where, how long, and
        the attempts before it; ``expires`` when results expire (readers hide it then)."""
        end = self.clock() if end is None else end
        rec: dict[str, Any] = {"at": end, "attempt": task.attempt, "state": state}
        rec["task"], rec["worker"] = task.registered_name, self.consumer_id
        if started is not None:
            rec["started"] = started
        if task.runtime is not None:
            rec["runtime"] = task.runtime
        if error is not None:
            rec["error"] = error
        if task.history:
            rec["history"] = task.history
        ttl = self.huey.result_ttl
        if ttl is not None:
            rec["expires"] = end + ttl
        return json.dumps(rec, separators=(",", ":")).encode()

    def _failed(
        self, spec: TaskSpec, task: Task, exc: Exception, tb: str, started: float, data: bytes
    ) -> Outcome:
        """The outcome of a failed call, with this attempt added to its history (which a
        retry carries on), its finished record when it ends here, and, when it goes to
        the dead letters, the message an operator's retry of it runs: its retries given
        back (written by us, so signed when the queue signs). Its attempt stays the last
        one run; the history ending with that number tells the retry to count on."""
        summary = _summary(exc)
        entry = {"n": task.attempt, "at": started, "worker": self.consumer_id, "error": summary}
        entry["took"] = round(task.runtime or 0.0, 6)
        task.history = [*(task.history or []), entry][-ATTEMPTS_KEPT:]
        if task.retries_given is None:
            task.retries_given = task.retries
        now = self.clock()
        decided = rules.failure(self.huey, spec, task, exc, tb, now)
        _log_failure(task, exc, tb, decided[1], now)
        outcome = self._retrying(decided)
        if rules.retried(outcome, task.id):
            return outcome
        if outcome.dead is not None:
            again = replace(task, retries=task.retries_given or 0, deadline=None, runtime=None)
            return replace(outcome, dead_data=self.huey.envelope.encode(again))
        head = self._head(task, started, "error", summary)
        return replace(outcome, finished=finished_record(head, data))

    def _announce(self, task: Task, exc: Exception) -> None:
        """The log line and signal of a failed call (before its outcome is decided)."""
        send = self.huey.signals.send
        if isinstance(exc, RetryTask):
            log.info("task %s %s asked to be retried", task.registered_name, task.id)
        elif isinstance(exc, RateLimitExceeded):
            send(SIGNAL_RATE_LIMITED, task)
        elif isinstance(exc, CancelExecution):
            send(SIGNAL_CANCELED, task)
        elif isinstance(exc, TaskLockedException):
            log.warning("task %s %s not run: %s", task.registered_name, task.id, exc)
            send(SIGNAL_LOCKED, task)
        elif isinstance(exc, TaskTimeout):
            send(SIGNAL_TIMEOUT, task)
        else:
            send(SIGNAL_ERROR, task, exc)

    def _completed(
        self,
        task: Task,
        outcome: Outcome,
        refused: str | None,
        value: Any,
        exception: Exception | None,
    ) -> None:
        """After the commit: chord bookkeeping, post-execute hooks, counters, signal."""
        self._after_finish(task, outcome, refused)
        self.huey.run_post_execute(task, value, exception)
        with self._lock:
            if exception is None:
                self.processed += 1
            else:
                self.failed += 1
        if not refused and exception is None:
            self.huey.signals.send(SIGNAL_COMPLETE, task)
        if not refused and outcome.dead is not None and self.notify is not None:
            self.notify("dead", task, outcome.dead[1].partition("\n")[0])
        self._enqueued(outcome, refused)

    # --- chords -------------------------------------------------------------------
    def _after_finish(self, task: Task, outcome: Outcome, refused: str | None) -> None:
        """A chord member that is done for good reports in. 'Not running' may be our own
        finish whose reply was lost, so that case re-checks without counting."""
        if refused not in (None, NOT_RUNNING):
            return
        # Only an outcome that writes the member's record reports: not a retry, not a
        # pipeline stage that enqueues the next one; any stage that ends it early does.
        ch = rules.reported_chord(task, outcome)
        if ch is not None:
            self._chord_report(ch, counted=refused is None)

    def _chord_report(self, ch: dict[str, Any], counted: bool) -> None:
        """The member that completes the chord enqueues the callback, exactly once: the
        callback's enqueue is guarded by ``chord:<id>:fired`` in the same atomic step."""
        storage, cid, size = self.storage, ch["id"], int(ch["size"])
        if counted and storage.incr(chord_counter(cid), CHORD_TTL) < size:
            return
        members = [storage.peek(chord_member(cid, index)) for index in range(size)]
        if any(data is None for data in members):
            return
        try:
            records = [self.huey.decode_value(data) if data else {} for data in members]
        except CodecError as exc:  # a forged or unsigned member result on a signed queue
            log.error("chord %s: a member's result is refused (%s): callback not run", cid, exc)
            return
        callback = self.huey.envelope.task(ch["callback"])
        extend_args(callback, (rules.member_values(records),))
        message = self.huey.message(callback, self.clock())
        if storage.enqueue_unique(chord_fired(cid), CHORD_TTL, message):
            self.huey.signals.send(SIGNAL_ENQUEUED, callback)
            for index in range(size):
                storage.delete(chord_member(cid, index))
            storage.delete(chord_counter(cid))
