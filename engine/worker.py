"""Running one claimed task, and the outcome it leaves behind.

:meth:`Worker.run` turns a claimed message into exactly one ``storage.finish``
call whose :class:`Outcome` holds everything the execution produced (result,
retry, next pipeline stage, dead letter), so a crash at any point either leaves
the task running (to be recovered and delivered again) or fully done.

A message that cannot be decoded, or names a task this process does not know,
is dead-lettered with the reason instead of crashing the worker.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .exceptions import (
    CancelExecution,
    CodecError,
    RateLimitExceeded,
    RetryTask,
    TaskLockedException,
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
)
from .storage.base import Claimed, Message, Outcome
from .task import Task, TaskWrapper

if TYPE_CHECKING:
    from .api import Huey

log = logging.getLogger("engine.worker")

REASON_MALFORMED = "malformed"
REASON_UNKNOWN = "unknown task"
REASON_FAILED = "failed"


def extend_args(task: Task, value: Any) -> None:
    """Feed a stage's return value to the next stage: tuple → ``*args``,
    dict → ``**kwargs``, None → nothing, anything else → one more argument."""
    if value is None or value == ():
        return
    if isinstance(value, tuple):
        task.args = task.args + value
    elif isinstance(value, dict):
        task.kwargs = {**task.kwargs, **value}
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


class Worker:
    """Executes tasks for one consumer id; ``step(now)`` claims and runs one."""

    def __init__(
        self,
        huey: Huey,
        consumer_id: str,
        lease: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.huey = huey
        self.consumer_id = consumer_id
        self.lease = lease
        self.clock = clock
        self.processed = 0
        self.failed = 0

    @property
    def storage(self) -> Any:
        return self.huey.storage

    def step(self, now: float) -> bool:
        """Claim one ready task and run it; False when the queue was empty."""
        claimed = self.storage.claim(self.consumer_id, now, 1, self.lease)
        for item in claimed:
            self.run(item)
        return bool(claimed)

    # --- one task ------------------------------------------------------------
    def run(self, claimed: Claimed) -> str | None:
        """Execute a claimed task; returns None, or why its finish was refused."""
        try:
            task = self.huey.envelope.decode(claimed.data)
        except CodecError as exc:
            log.error("task %s set aside: %s", claimed.id, exc)
            return self._finish(claimed.id, Outcome(dead=(REASON_MALFORMED, str(exc))))
        wrapper = self.huey.registered(task.name)
        if wrapper is None:
            error = f"no task named {task.name!r} is registered in this worker"
            log.error("task %s set aside: %s", claimed.id, error)
            return self._finish(claimed.id, Outcome(dead=(REASON_UNKNOWN, error)))
        task.huey = self.huey
        return self._execute(wrapper, task)

    def _finish(self, task_id: str, outcome: Outcome) -> str | None:
        refused = self.storage.finish(self.consumer_id, task_id, self.clock(), outcome)
        if refused:
            log.warning("result of task %s not committed: %s", task_id, refused)
        return refused

    def _skip_reason(self, task: Task, now: float) -> str | None:
        if task.expires is not None and now > task.expires:
            return SIGNAL_EXPIRED
        if self.huey.consume_revocation(task, now):
            return SIGNAL_REVOKED
        return None

    def _execute(self, wrapper: TaskWrapper, task: Task) -> str | None:
        send = self.huey.signals.send
        now = self.clock()
        skipped = self._skip_reason(task, now)
        if skipped:
            send(skipped, task)
            return self._finish(task.id, Outcome())
        try:
            for hook in list(self.huey._pre_execute.values()):
                hook(task)
        except CancelExecution as exc:
            send(SIGNAL_CANCELED, task)
            if exc.retry or (exc.retry is None and task.retries):
                return self._finish(task.id, self._retry(task, now))
            return self._finish(task.id, Outcome())
        send(SIGNAL_EXECUTING, task)
        started = time.monotonic()
        value: Any = None
        exception: BaseException | None = None
        try:
            kwargs = dict(task.kwargs, task=task) if wrapper.context else task.kwargs
            value = wrapper.func(*task.args, **kwargs)
            outcome = self._success(wrapper, task, value)
        except Exception as exc:
            exception = exc
            outcome = self._failure(task, exc, traceback.format_exc())
        duration = time.monotonic() - started
        refused = self._finish(task.id, outcome)
        for hook in list(self.huey._post_execute.values()):
            try:
                hook(task, value, exception)
            except Exception:
                log.exception("post_execute hook failed for %s", task.id)
        if not refused and exception is None:
            self.processed += 1
            send(SIGNAL_COMPLETE, task, duration)
        elif exception is not None:
            self.failed += 1
        return refused

    # --- outcomes ---------------------------------------------------------------
    def _store(self, task: Task, wrapper: TaskWrapper | None) -> bool:
        return self.huey.results and (wrapper is None or wrapper.periodic is None)

    def _success(self, wrapper: TaskWrapper, task: Task, value: Any) -> Outcome:
        huey = self.huey
        results: list[tuple[str, bytes]] = []
        if self._store(task, wrapper) and (value is not None or huey.store_none):
            results.append(("result:" + task.id, huey.encode_value(value)))
        enqueue = []
        if task.on_complete is not None:
            nxt = replace(task.on_complete, huey=huey)
            extend_args(nxt, value)
            enqueue.append(self._message(nxt))
        return Outcome(results=results, result_ttl=huey.result_ttl, enqueue=enqueue)

    def _message(self, task: Task) -> Message:
        now = self.clock()
        task.enqueued_at = now
        if task.expires_in is not None and task.expires is None:
            task.expires = now + task.expires_in
        return Message(task.id, self.huey.envelope.encode(task), task.priority)

    def _failure(self, task: Task, exc: Exception, tb: str) -> Outcome:
        send = self.huey.signals.send
        now = self.clock()
        if isinstance(exc, (TaskLockedException, RateLimitExceeded)):
            locked = isinstance(exc, TaskLockedException)
            log.warning("task %s %s not run: %s", task.name, task.id, exc)
            send(SIGNAL_LOCKED if locked else SIGNAL_RATE_LIMITED, task)
            if task.retries:
                return self._retry(task, now)
            return self._give_up(task, exc, tb, dead=False)
        if isinstance(exc, RetryTask):
            log.info("task %s asked for a retry", task.id)
            return self._retry(task, now, exc, explicit=True)
        log.error("task %s %s failed: %r", task.name, task.id, exc)
        send(SIGNAL_ERROR, task, exc)
        if task.retries:
            return self._retry(task, now)
        return self._give_up(task, exc, tb, dead=True)

    def _retry(
        self, task: Task, now: float, exc: RetryTask | None = None, explicit: bool = False
    ) -> Outcome:
        again = replace(
            task, retries=task.retries if explicit and not task.retries else task.retries - 1,
            attempt=task.attempt + 1,
        )
        delay = task.retry_delay * (task.retry_backoff ** (task.attempt - 1))
        eta = None
        if exc is not None and exc.eta is not None:
            eta = self.huey.to_timestamp(exc.eta)
        elif exc is not None and exc.delay is not None:
            eta = now + float(exc.delay)
        elif delay > 0:
            eta = now + delay
        again.eta = eta
        self.huey.signals.send(SIGNAL_RETRYING, again)
        msg = Message(again.id, self.huey.envelope.encode(again), again.priority)
        if eta is None or eta <= now:
            return Outcome(enqueue=[msg])
        return Outcome(schedule=[(msg, eta)])

    def _give_up(self, task: Task, exc: Exception, tb: str, dead: bool) -> Outcome:
        huey = self.huey
        meta = error_metadata(task, exc, tb)
        results = []
        if huey.results:
            results.append(("result:" + task.id, huey.encode_error(meta)))
            # Later stages of a pipeline will never run: fail their results too.
            node = task.on_complete
            while node is not None:
                upstream = dict(meta, error=f"pipeline stage {task.name} ({task.id}) failed: "
                                f"{meta['error']}", task_id=node.id, task=node.name)
                results.append(("result:" + node.id, huey.encode_error(upstream)))
                node = node.on_complete
        enqueue = []
        if task.on_error is not None:
            handler = replace(task.on_error, huey=huey)
            extend_args(handler, ({k: meta[k] for k in ("error", "type", "traceback", "task_id")},))
            enqueue.append(self._message(handler))
        last_line = (tb.strip().splitlines() or [repr(exc)])[-1]
        return Outcome(
            results=results, result_ttl=huey.result_ttl, enqueue=enqueue,
            dead=(REASON_FAILED, f"{last_line}\n{tb}") if dead else None,
        )
