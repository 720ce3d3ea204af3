"""Running one claimed task, and the outcome it leaves behind.

:meth:`Worker.run` turns a claimed message into exactly one ``storage.finish``
call whose :class:`Outcome` holds everything the execution produced (result,
retry, next pipeline stage, dead letter), so a crash at any point either leaves
the task running (to be recovered and delivered again) or fully done.

A message that cannot be decoded, or names a task this process does not know,
is dead-lettered with the reason instead of crashing the worker.

Exceptions follow huey 3: ``RetryTask`` and a rate limit with ``retry=True``
retry without spending a retry; a held lock, a timeout or any other error
spend one; ``CancelExecution`` drops the call (or retries it with
``retry=True``). Only the final failure stores an error result, fails the later
stages of a pipeline, runs the ``.error()`` handler and dead-letters the task.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .exceptions import (
    CancelExecution,
    CodecError,
    RateLimitExceeded,
    RetryTask,
    StoreUnavailable,
    TaskLockedException,
    TaskTimeout,
)
from .signals import (
    SIGNAL_CANCELED,
    SIGNAL_COMPLETE,
    SIGNAL_ERROR,
    SIGNAL_EXECUTING,
    SIGNAL_EXPIRED,
    SIGNAL_LOCKED,
    SIGNAL_RATE_LIMITED,
    SIGNAL_RETRYING,
    SIGNAL_REVOKED,
    SIGNAL_TIMEOUT,
)
from .storage.base import NOT_RUNNING, Claimed, Message, Outcome, Storage
from .task import Task, TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

log = logging.getLogger("engine.worker")

REASON_MALFORMED = "malformed"
REASON_UNKNOWN = "unknown task"
REASON_FAILED = "failed"
CHORD_TTL = 7 * 86400.0


def extend_args(task: Task, value: Any) -> None:
    """Feed a stage's return value to the next stage: tuple → more ``*args``,
    dict → ``**kwargs`` (not overriding ones given), None → nothing, else one more arg."""
    if value is None or value == ():
        return
    if isinstance(value, tuple):
        task.args = task.args + value
    elif isinstance(value, dict):
        task.kwargs = {**value, **task.kwargs}
    else:
        task.args = task.args + (value,)


def error_metadata(task: Task, exc: BaseException, tb: str) -> dict[str, Any]:
    return {
        "error": repr(exc),
        "type": type(exc).__name__,
        "traceback": tb,
        "retries": task.retries,
        "task_id": task.id,
        "task": task.name,
    }


Then = Callable[[str | None, BaseException | None], None]


class Committer:
    """Sends the finishes of a consumer's worker threads to the store in batches:
    whatever finishes while one batch is on the wire goes in the next, so under
    load many tasks share one round trip, and alone a task waits for no one.

    ``submit`` does not wait: the worker thread goes on to its next task and the
    callback runs here once the outcome is committed (the task stays running in
    the store until then, so nothing is lost if we die first). While the store is
    unreachable a batch is retried, for up to a lease."""

    def __init__(self, storage: Callable[[], Storage], consumer_id: str, lease: float) -> None:
        self._storage, self.consumer_id, self.lease = storage, consumer_id, lease
        self._queue: queue.SimpleQueue[tuple[str, float, Outcome, Then] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="committer", daemon=True)
        self._thread.start()

    def submit(self, task_id: str, now: float, outcome: Outcome, then: Then) -> None:
        self._queue.put((task_id, now, outcome, then))

    def finish(self, task_id: str, now: float, outcome: Outcome) -> str | None:
        done: Future[str | None] = Future()

        def then(refused: str | None, exc: BaseException | None) -> None:
            if exc is None:
                done.set_result(refused)
            else:
                done.set_exception(exc)

        self.submit(task_id, now, outcome, then)
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
        deadline, pause = time.monotonic() + self.lease, 0.05
        while True:
            try:
                return self._storage().finish_many(
                    self.consumer_id, [(t, n, o) for t, n, o, _ in batch]
                )
            except StoreUnavailable:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _loop(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = self._batch(first)
            try:
                refusals = self._commit(batch)
            except BaseException as exc:
                for *_, then in batch:
                    _call(then, None, exc)
            else:
                for (*_, then), refused in zip(batch, refusals, strict=True):
                    _call(then, refused, None)


def _call(then: Then, refused: str | None, exc: BaseException | None) -> None:
    try:
        then(refused, exc)
    except Exception:
        log.exception("after-commit callback failed")


_PENDING = "pending commit"  # run() handed the outcome to the committer


class Worker:
    """Executes tasks for one consumer id; ``step(now)`` claims and runs one.

    Thread-safe: the consumer's worker threads share one Worker. ``current``
    maps the ids running now to (task name, start time) for the registry.
    """

    def __init__(
        self,
        huey: Huey,
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
        self._lock = threading.Lock()

    @property
    def storage(self) -> Storage:
        return self.huey.storage

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
        handed_off = False
        try:
            refused = self._run(claimed, done)
            handed_off = refused == _PENDING
            return None if handed_off else refused
        finally:
            if done is not None and not handed_off:
                done()

    def _run(self, claimed: Claimed, done: Callable[[], None] | None) -> str | None:
        try:
            task = self.huey.envelope.decode(claimed.data)
        except Exception as exc:  # CodecError, or a record of the wrong shape
            error = str(exc) if isinstance(exc, CodecError) else f"{type(exc).__name__}: {exc}"
            log.error("task %s set aside: %s", claimed.id, error)
            return self._finish(claimed.id, Outcome(dead=(REASON_MALFORMED, error)))
        wrapper = self.huey.registered(task.name)
        if wrapper is None:
            error = f"no task named {task.name!r} is registered in this worker"
            log.error("task %s set aside: %s", claimed.id, error)
            return self._finish(claimed.id, Outcome(dead=(REASON_UNKNOWN, error)))
        task.huey = self.huey
        task.apply_defaults(wrapper)
        with self._lock:
            self.current[task.id] = (task.name, self.clock())
        try:
            return self._execute(wrapper, task, done)
        finally:
            with self._lock:
                self.current.pop(task.id, None)

    def _finish(self, task_id: str, outcome: Outcome) -> str | None:
        """Commit the outcome, retrying while the store is unreachable for up to a
        lease (after that the lease is gone and the task belongs to recovery)."""
        deadline, pause = time.monotonic() + self.lease, 0.05
        refused: str | None
        while True:
            try:
                if self.committer is not None:
                    refused = self.committer.finish(task_id, self.clock(), outcome)
                else:
                    refused = self.storage.finish(self.consumer_id, task_id, self.clock(), outcome)
                break
            except StoreUnavailable:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
        if refused:
            log.warning("result of task %s not committed: %s", task_id, refused)
        return refused

    def _skip_reason(self, task: Task, now: float) -> str | None:
        if self.huey.consume_revocation(task, now):
            return SIGNAL_REVOKED
        if task.expires is not None and now > task.expires:
            return SIGNAL_EXPIRED
        return None

    def _pre_execute(self, task: Task) -> CancelExecution | None:
        for hook in list(self.huey._pre_execute.values()):
            try:
                hook(task)
            except CancelExecution as exc:
                return exc
            except Exception:
                log.exception("pre_execute hook failed for %s", task.id)
        return None

    def _skip(self, task: Task, signal: str, outcome: Outcome | None = None) -> str | None:
        self.huey.signals.send(signal, task)
        outcome = outcome or Outcome(results=self._chord_results(task, {"skipped": True}))
        refused = self._finish(task.id, outcome)
        self._after_finish(task, outcome, refused)
        return refused

    def _execute(
        self, wrapper: TaskWrapper, task: Task, done: Callable[[], None] | None = None
    ) -> str | None:
        send = self.huey.signals.send
        now = self.clock()
        skipped = self._skip_reason(task, now)
        if skipped:
            return self._skip(task, skipped)
        cancel = self._pre_execute(task)
        if cancel is not None:
            if cancel.retry or (cancel.retry is None and task.retries):
                return self._skip(task, SIGNAL_CANCELED, self._retry(task, now, spend=True))
            return self._skip(task, SIGNAL_CANCELED)
        send(SIGNAL_EXECUTING, task)
        started = time.monotonic()
        if task.timeout:
            task.deadline = started + task.timeout
        value: Any = None
        exception: Exception | None = None
        tb = ""
        try:
            kwargs = dict(task.kwargs, task=task) if wrapper.context else task.kwargs
            with self.timeout_guard(task.timeout):
                value = wrapper.func(*task.args, **kwargs)
        except Exception as exc:
            exception, tb = exc, traceback.format_exc()
        except BaseException as exc:  # sys.exit() in a task: a failure, not our exit
            exception, tb = RuntimeError(f"task raised {exc!r}"), traceback.format_exc()
        task.runtime = time.monotonic() - started
        try:
            if exception is None:
                outcome = self._success(wrapper, task, value)
        except Exception as exc:  # e.g. a return value the codec cannot encode
            exception, tb = exc, traceback.format_exc()
        if exception is not None:
            outcome = self._failure(wrapper, task, exception, tb)
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

            self.committer.submit(task.id, self.clock(), outcome, then)
            return _PENDING
        refused = self._finish(task.id, outcome)
        self._completed(task, outcome, refused, value, exception)
        return refused

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
        for hook in list(self.huey._post_execute.values()):
            try:
                hook(task, value, exception)
            except Exception:
                log.exception("post_execute hook failed for %s", task.id)
        with self._lock:
            if exception is None:
                self.processed += 1
            else:
                self.failed += 1
        if not refused and exception is None:
            self.huey.signals.send(SIGNAL_COMPLETE, task)

    # --- outcomes ---------------------------------------------------------------
    def _success(self, wrapper: TaskWrapper, task: Task, value: Any) -> Outcome:
        huey = self.huey
        results: list[tuple[str, bytes]] = []
        if huey.results and wrapper.periodic is None and (value is not None or huey.store_none):
            results.append(("result:" + task.id, huey.encode_value(value)))
        results += self._chord_results(task, {"value": value})
        enqueue = []
        if task.on_complete is not None:
            nxt = replace(task.on_complete, huey=huey)
            extend_args(nxt, value)
            enqueue.append(self._message(nxt))
        return Outcome(results=results, result_ttl=self._ttl(task), enqueue=enqueue)

    def _message(self, task: Task) -> Message:
        now = self.clock()
        task.enqueued_at = now
        if task.expires_in is not None:
            task.expires = now + task.expires_in
        return Message(task.id, self.huey.envelope.encode(task), task.priority)

    def _failure(self, wrapper: TaskWrapper, task: Task, exc: Exception, tb: str) -> Outcome:
        send = self.huey.signals.send
        now = self.clock()
        if isinstance(exc, RetryTask):
            log.info("task %s %s asked to be retried", task.name, task.id)
            return self._retry(task, now, exc=exc, spend=False)
        if isinstance(exc, RateLimitExceeded):
            send(SIGNAL_RATE_LIMITED, task)
            if exc.retry or task.retries:
                delay = task.retry_delay or exc.delay
                return self._retry(task, now, at=now + delay, spend=not exc.retry)
        elif isinstance(exc, CancelExecution):
            send(SIGNAL_CANCELED, task)
            if exc.retry or (exc.retry is None and task.retries):
                return self._retry(task, now, spend=not task.retries == 0)
            return Outcome(results=self._chord_results(task, {"skipped": True}))
        elif isinstance(exc, TaskLockedException):
            log.warning("task %s %s not run: %s", task.name, task.id, exc)
            send(SIGNAL_LOCKED, task)
        elif isinstance(exc, TaskTimeout):
            log.error("task %s %s timed out: %s", task.name, task.id, exc)
            send(SIGNAL_TIMEOUT, task)
        else:
            log.error("task %s %s failed: %r", task.name, task.id, exc)
            send(SIGNAL_ERROR, task, exc)
        if task.retries:
            return self._retry(task, now)
        locked = isinstance(exc, (TaskLockedException, RateLimitExceeded))
        return self._give_up(wrapper, task, exc, tb, dead=not locked)

    def _retry(
        self,
        task: Task,
        now: float,
        exc: RetryTask | None = None,
        at: float | None = None,
        spend: bool = True,
    ) -> Outcome:
        """The same call again (same id): now, at ``at``, at the RetryTask's time, or
        after ``retry_delay`` (which then grows by ``retry_backoff`` for the next one)."""
        again = replace(
            task,
            retries=max(0, task.retries - 1) if spend else task.retries,
            attempt=task.attempt + 1,
            deadline=None,
            runtime=None,
        )
        eta = at
        if exc is not None and exc.eta is not None:
            eta = self.huey.to_timestamp(exc.eta)
        elif exc is not None and exc.delay is not None:
            eta = now + float(exc.delay)
        elif eta is None and task.retry_delay > 0:
            eta = now + task.retry_delay
            if task.retry_backoff:
                again.retry_delay = task.retry_delay * task.retry_backoff
        again.eta = eta
        self.huey.signals.send(SIGNAL_RETRYING, again)
        msg = Message(again.id, self.huey.envelope.encode(again), again.priority)
        if eta is None or eta <= now:
            return Outcome(enqueue=[msg])
        return Outcome(schedule=[(msg, eta)])

    def _give_up(
        self, wrapper: TaskWrapper, task: Task, exc: Exception, tb: str, dead: bool
    ) -> Outcome:
        huey = self.huey
        meta = error_metadata(task, exc, tb)
        results = []
        if huey.results and wrapper.periodic is None:
            results.append(("result:" + task.id, huey.encode_error(meta)))
            # Later stages of a pipeline will never run: fail their results too.
            node = task.on_complete
            while node is not None:
                results.append(("result:" + node.id, huey.encode_error(meta)))
                node = node.on_complete
        results += self._chord_results(task, {"error": meta})
        enqueue = []
        if task.on_error is not None:
            handler = replace(task.on_error, huey=huey)
            info = {k: meta[k] for k in ("error", "type", "traceback", "task_id")}
            extend_args(handler, (info,))
            enqueue.append(self._message(handler))
        last_line = (tb.strip().splitlines() or [repr(exc)])[-1]
        return Outcome(
            results=results,
            result_ttl=self._ttl(task),
            enqueue=enqueue,
            dead=(REASON_FAILED, f"{last_line}\n{tb}") if dead else None,
        )

    # --- chords -------------------------------------------------------------------
    def _chord_results(self, task: Task, rec: dict[str, Any]) -> list[tuple[str, bytes]]:
        if not task.chord:
            return []
        if "value" in rec:
            data = self.huey.encode_value(rec["value"])
        elif "error" in rec:
            data = self.huey.encode_error(rec["error"])
        else:
            data = b'{"skipped":true}'
        return [(f"chord:{task.chord['id']}:{task.chord['index']}", data)]

    def _ttl(self, task: Task) -> float | None:
        """Results expire after ``result_ttl``, but a chord member's must outlive its chord."""
        ttl = self.huey.result_ttl
        return ttl if ttl is None or not task.chord else max(ttl, CHORD_TTL)

    def _after_finish(self, task: Task, outcome: Outcome, refused: str | None) -> None:
        """A chord member that is done for good reports in. 'Not running' may be our own
        finish whose reply was lost, so that case re-checks without counting."""
        if not task.chord or refused not in (None, NOT_RUNNING):
            return
        again = [m.id for m in outcome.enqueue] + [m.id for m, _ in outcome.schedule]
        if task.id in again:  # a retry: not done yet
            return
        self._chord_report(task, counted=refused is None)

    def _chord_report(self, task: Task, counted: bool) -> None:
        """The member that completes the chord enqueues the callback, exactly once: the
        callback's enqueue is guarded by ``chord:<id>:fired`` in the same atomic step."""
        ch = task.chord
        assert ch is not None
        storage, cid, size = self.storage, ch["id"], int(ch["size"])
        if counted and storage.incr(f"chord:{cid}", CHORD_TTL) < size:
            return
        members = [storage.peek(f"chord:{cid}:{index}") for index in range(size)]
        if any(data is None for data in members):
            return
        from .chord import SKIPPED, Error

        values: list[Any] = []
        for data in members:
            rec: dict[str, Any] = self.huey.decode_value(data) if data else {}
            if "value" in rec:
                values.append(rec["value"])
            elif "error" in rec:
                values.append(Error(rec["error"]))
            else:
                values.append(SKIPPED)
        callback = self.huey.envelope.task(ch["callback"])
        callback.huey = self.huey
        extend_args(callback, (values,))
        if storage.enqueue_unique(f"chord:{cid}:fired", CHORD_TTL, self._message(callback)):
            for index in range(size):
                storage.delete(f"chord:{cid}:{index}")
            storage.delete(f"chord:{cid}")
