"""What a finished call leaves behind, decided by pure functions.

Runtime floor, but pure: nothing here touches a store, a clock, a signal or a
log. Given the call, its :class:`~engine.task.TaskSpec`, what it returned or
raised and the time, each function returns the :class:`Outcome` the worker
commits in one atomic ``finish`` (results to write, messages to enqueue or
schedule, a dead letter). The worker keeps the side effects (signals, logs,
hooks, the commit), so these rules are unit-tested without a store
(``tests/unit/test_outcome.py``).

Exceptions follow huey 3: ``RetryTask`` and a rate limit with ``retry=True``
retry without spending a retry; a held lock, a timeout or any other error spend
one; ``CancelExecution`` in a task ends the call with an error result (or retries
it with ``retry=True``, or ``retry=None`` while retries are left), and from a
pre-execute hook drops it without a result (unless ``retry=True``).
Only the final failure stores an error result, fails the later stages of a
pipeline, enqueues the ``.error()`` handler and dead-letters the task.

The chord protocol's member side lives here too: a member that is done for good
writes its result record to ``chord:<id>:<index>`` in its own outcome, and the
values the callback receives are built from those records by
:func:`member_values` (:data:`SKIPPED` or :class:`Error` for members that did
not succeed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Protocol

from .codec import Error
from .exceptions import CancelExecution, RateLimitExceeded, RetryTask, TaskLockedException
from .keys import chord_member, result_key
from .storage.base import Message, Outcome
from .task import Task, TaskSpec

REASON_MALFORMED = "malformed"
REASON_UNKNOWN = "unknown task"
REASON_FAILED = "failed"
REASON_REFUSED = "refused"  # the store refused the outcome (a result over its limits ...)
CHORD_TTL = 7 * 86400.0  # a chord's bookkeeping outlives its slowest member by this much
SKIPPED = "__skipped__"  # a chord member that was revoked, expired or cancelled
_SKIPPED_RECORD = b'{"skipped":true}'


class Records(Protocol):
    """What the outcome rules need from the queue (``QueueCore`` provides it)."""

    results: bool
    store_none: bool
    result_ttl: float | None

    def encode_value(self, value: Any) -> bytes: ...

    def encode_error(self, metadata: dict[str, Any]) -> bytes: ...

    def build_error_result(self, task: Task, exception: BaseException) -> dict[str, Any]: ...

    def message(self, task: Task, now: float) -> Message: ...

    def encode_message(self, task: Task) -> Message: ...

    def to_timestamp(
        self, when: dt.datetime | float, naive_is_local: bool | None = None
    ) -> float: ...


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


def result_ttl(q: Records, task: Task) -> float | None:
    """Results expire after ``result_ttl``, but a chord member's must outlive its chord."""
    ttl = q.result_ttl
    return ttl if ttl is None or not task.chord else max(ttl, CHORD_TTL)


# --- chord members ------------------------------------------------------------------
def chord_result(q: Records, task: Task, value: Any) -> list[tuple[str, bytes]]:
    """A chord member's value, for ``chord:<id>:<index>`` (nothing if not a member)."""
    ch = task.chord
    return [] if not ch else [(chord_member(ch["id"], ch["index"]), q.encode_value(value))]


def member_chord(task: Task) -> dict[str, Any] | None:
    """The chord this call's pipeline is a member of: the chord of the first stage from
    here on that carries one (the last), as huey's ``_abort_chord_member`` walks it. A
    stage that ends its pipeline early (failed for good, skipped) reports for it."""
    for stage in task.stages():
        if stage.chord:
            return stage.chord
    return None


def reported_chord(task: Task, outcome: Outcome) -> dict[str, Any] | None:
    """The chord whose member record ``outcome`` writes, if any: then the member is done
    for good and reports in (a retry or a pipeline's next stage writes none)."""
    ch = member_chord(task) if outcome.results else None
    if ch is None:
        return None
    key = chord_member(ch["id"], ch["index"])
    return ch if any(k == key for k, _ in outcome.results) else None


def chord_error(q: Records, task: Task, meta: dict[str, Any]) -> list[tuple[str, bytes]]:
    """A chord member's final failure, for ``chord:<id>:<index>`` (from any stage)."""
    ch = member_chord(task)
    return [] if not ch else [(chord_member(ch["id"], ch["index"]), q.encode_error(meta))]


def chord_skipped(task: Task) -> list[tuple[str, bytes]]:
    """A chord member that will not run (revoked, expired, cancelled), from any stage."""
    ch = member_chord(task)
    return [] if not ch else [(chord_member(ch["id"], ch["index"]), _SKIPPED_RECORD)]


def member_values(records: list[dict[str, Any]]) -> list[Any]:
    """What the chord callback receives, in member order, from the decoded records."""
    values: list[Any] = []
    for rec in records:
        if "value" in rec:
            values.append(rec["value"])
        elif "error" in rec:
            values.append(Error(rec["error"]))
        else:
            values.append(SKIPPED)
    return values


def retried(outcome: Outcome, task_id: str) -> bool:
    """Whether the outcome runs the call again (same id): then it is not done yet."""
    return any(m.id == task_id for m in outcome.enqueue) or any(
        m.id == task_id for m, _ in outcome.schedule
    )


# --- the rules ----------------------------------------------------------------------
def skipped(task: Task) -> Outcome:
    """A call that does not run: nothing is written but a chord member's marker."""
    return Outcome(results=chord_skipped(task))


def success(
    q: Records, spec: TaskSpec, task: Task, value: Any, now: float, finished: bytes | None = None
) -> Outcome:
    """The call returned ``value``: store it (unless periodic, or None without
    ``store_none``), report to a chord, enqueue the pipeline's next stage, keep the
    ``finished`` record's head (the worker's, see ``engine.executor``)."""
    results: list[tuple[str, bytes]] = []
    if q.results and spec.periodic is None and (value is not None or q.store_none):
        results.append((result_key(task.id), q.encode_value(value)))
    if task.chord:
        results += chord_result(q, task, value)
    enqueue = []
    if task.on_complete is not None:
        nxt = replace(task.on_complete)
        extend_args(nxt, value)
        enqueue.append(q.message(nxt, now))
    return Outcome(
        results=results, result_ttl=result_ttl(q, task), enqueue=enqueue, finished=finished
    )


def retry(
    q: Records,
    task: Task,
    now: float,
    exc: RetryTask | None = None,
    at: float | None = None,
    spend: bool = True,
) -> tuple[Outcome, Task]:
    """The same call again (same id): now, at ``at``, at the RetryTask's time, or
    after ``retry_delay`` (which then grows by ``retry_backoff`` for the next one).
    Returns the outcome and the call as retried."""
    again = replace(
        task,
        retries=max(0, task.retries - 1) if spend else task.retries,
        attempt=task.attempt + 1,
        deadline=None,
        runtime=None,
    )
    eta = at
    if exc is not None and exc.eta is not None:
        eta = q.to_timestamp(exc.eta)
    elif exc is not None and exc.delay is not None:
        eta = now + float(exc.delay)
    elif eta is None and task.retry_delay > 0:
        eta = now + task.retry_delay
        if task.retry_backoff:
            again.retry_delay = task.retry_delay * task.retry_backoff
    again.due_at = eta
    msg = q.encode_message(again)
    if eta is None or eta <= now:
        return Outcome(enqueue=[msg]), again
    return Outcome(schedule=[(msg, eta)]), again


def cancelled(
    q: Records, task: Task, retry_asked: bool | None, now: float
) -> tuple[Outcome, Task | None]:
    """``CancelExecution`` from a pre-execute hook: dropped without a result (huey),
    or retried when it asks to be with ``retry=True``."""
    if retry_asked:
        return retry(q, task, now, spend=task.retries != 0)
    return skipped(task), None


def give_up(
    q: Records, spec: TaskSpec, task: Task, exc: Exception, tb: str, now: float, dead: bool
) -> Outcome:
    """The final failure: error results for this stage and the later ones, the chord
    member's error, the ``.error()`` handler enqueued, and (``dead``) a dead letter."""
    meta = q.build_error_result(task, exc)  # huey's hook: a queue may override it
    results = []
    if q.results and spec.periodic is None:
        error = q.encode_error(meta)
        results.append((result_key(task.id), error))
        # Later stages of a pipeline will never run: fail their results too.
        results += [(result_key(stage.id), error) for stage in task.stages()[1:]]
    results += chord_error(q, task, meta)
    enqueue = []
    if task.on_error is not None:
        handler = replace(task.on_error)
        info = {k: meta.get(k) for k in ("error", "type", "traceback", "task_id")}
        extend_args(handler, (info,))
        enqueue.append(q.message(handler, now))
    last_line = (tb.strip().splitlines() or [repr(exc)])[-1]
    return Outcome(
        results=results,
        result_ttl=result_ttl(q, task),
        enqueue=enqueue,
        dead=(REASON_FAILED, f"{last_line}\n{tb}") if dead else None,
    )


def failure(
    q: Records, spec: TaskSpec, task: Task, exc: Exception, tb: str, now: float
) -> tuple[Outcome, Task | None]:
    """The call raised ``exc``: retry it (returning the retried call) or give up."""
    if isinstance(exc, RetryTask):
        return retry(q, task, now, exc=exc, spend=False)
    if isinstance(exc, RateLimitExceeded):
        if exc.retry or task.retries:
            at = now + (task.retry_delay or exc.delay)
            return retry(q, task, now, at=at, spend=not exc.retry)
    elif isinstance(exc, CancelExecution):
        # As huey: retried when asked, or (retry=None) while retries are left; else
        # a final failure whose result raises TaskException (but no dead letter).
        if exc.retry or (exc.retry is None and task.retries):
            return retry(q, task, now, spend=task.retries != 0)
        return give_up(q, spec, task, exc, tb, now, dead=False), None
    if task.retries:
        return retry(q, task, now)
    locked = isinstance(exc, (TaskLockedException, RateLimitExceeded))
    return give_up(q, spec, task, exc, tb, now, dead=not locked), None
