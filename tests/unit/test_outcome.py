"""The outcome rules (``engine.outcome``): what a finished call leaves behind.

Pure functions, tested here without a store, a worker or a ``Huey``: a small
stand-in provides the record encodings the rules need.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from engine.envelope import Envelope
from engine.exceptions import CancelExecution, RateLimitExceeded, RetryTask, TaskLockedException
from engine.outcome import (
    CHORD_TTL,
    REASON_FAILED,
    SKIPPED,
    Error,
    failure,
    member_values,
    reported_chord,
    retried,
    skipped,
    success,
)
from engine.storage.base import Message
from engine.task import Task, TaskSpec, error_metadata

NOW = 1_700_000_000.0


class Queue:
    """The part of a queue the rules use (``QueueCore`` has the same members)."""

    def __init__(self, results: bool = True, store_none: bool = False, ttl: float | None = None):
        self.results, self.store_none, self.result_ttl = results, store_none, ttl
        self.envelope = Envelope()

    def encode_value(self, value: Any) -> bytes:
        return json.dumps({"value": value}).encode()

    def encode_error(self, metadata: dict[str, Any]) -> bytes:
        return json.dumps({"error": metadata}).encode()

    def build_error_result(self, task: Task, exception: BaseException) -> dict[str, Any]:
        return error_metadata(task, exception)

    def message(self, task: Task, now: float) -> Message:
        task.enqueued_at = now
        return self.encode_message(task)

    def encode_message(self, task: Task) -> Message:
        return Message(task.id, self.envelope.encode(task), task.priority)

    def to_timestamp(self, when: dt.datetime | float, naive_is_local: bool | None = None) -> float:
        return when.timestamp() if isinstance(when, dt.datetime) else float(when)


def spec(**options: Any) -> TaskSpec:
    return TaskSpec(func=lambda *a: None, name="t", **options)


def call(**options: Any) -> Task:
    return Task(name="t", args=(1,), **options)


def decoded(msg: Message) -> Task:
    return Envelope().decode(msg.data, msg.id)


def test_success_stores_the_value_and_feeds_the_next_stage() -> None:
    task = call()
    task.then(Task(name="next", args=("a",)))
    out = success(Queue(ttl=60), spec(), task, 5, NOW)
    assert out.results == [(f"result:{task.id}", b'{"value": 5}')]
    assert out.result_ttl == 60
    (nxt,) = out.enqueue
    assert decoded(nxt).args == ("a", 5)
    assert decoded(nxt).enqueued_at == NOW
    assert out.dead is None


def test_success_stores_none_only_when_asked_and_never_for_periodic_tasks() -> None:
    assert success(Queue(), spec(), call(), None, NOW).results == []
    assert success(Queue(store_none=True), spec(), call(), None, NOW).results != []
    assert success(Queue(), spec(periodic=lambda when: True), call(), 1, NOW).results == []
    assert success(Queue(results=False), spec(), call(), 1, NOW).results == []


def test_a_chord_member_reports_its_value_and_keeps_its_result_for_the_chord() -> None:
    task = call(chord={"id": "c", "size": 2, "index": 1, "callback": {}})
    out = success(Queue(ttl=60), spec(), task, 5, NOW)
    assert ("chord:c:1", b'{"value": 5}') in out.results
    assert out.result_ttl == CHORD_TTL
    assert skipped(task).results == [("chord:c:1", b'{"skipped":true}')]
    assert skipped(call()).results == []


def test_a_member_pipeline_reports_from_the_stage_that_ends_it() -> None:
    # The chord is carried by the tail; a head that fails for good or is skipped
    # reports for it, a head that succeeds hands on to the next stage and does not.
    head = call().then(call(chord={"id": "c", "size": 2, "index": 0, "callback": {}}))
    done = success(Queue(), spec(), head, 5, NOW)
    assert reported_chord(head, done) is None
    failed, _ = failure(Queue(), spec(), head, ValueError("x"), "tb", NOW)
    assert reported_chord(head, failed) == head.on_complete.chord  # type: ignore[union-attr]
    assert [k for k, _ in failed.results if k.startswith("chord:")] == ["chord:c:0"]
    assert skipped(head).results == [("chord:c:0", b'{"skipped":true}')]
    retry, _ = failure(Queue(), spec(), call(retries=1).then(head), ValueError("x"), "tb", NOW)
    assert reported_chord(head, retry) is None


def test_an_error_with_retries_left_retries_later_with_backoff() -> None:
    task = call(retries=2, retry_delay=10, retry_backoff=2.0)
    out, again = failure(Queue(), spec(), task, ValueError("x"), "tb", NOW)
    assert again is not None and again.id == task.id
    assert (again.retries, again.attempt, again.retry_delay) == (1, 2, 20.0)
    ((msg, eta),) = out.schedule
    assert eta == NOW + 10 and msg.id == task.id and not out.results
    assert retried(out, task.id) and not retried(out, "other")


def test_retry_task_does_not_spend_a_retry_and_takes_its_own_delay() -> None:
    out, again = failure(Queue(), spec(), call(), RetryTask(delay=5), "", NOW)
    assert again is not None and again.retries == 0
    assert out.schedule[0][1] == NOW + 5
    now_again, _ = failure(Queue(), spec(), call(), RetryTask(), "", NOW)
    assert len(now_again.enqueue) == 1 and not now_again.schedule


def test_a_rate_limit_with_retry_waits_for_its_window_without_spending() -> None:
    out, again = failure(Queue(), spec(), call(), RateLimitExceeded("k", 3.0), "", NOW)
    assert again is not None and again.retries == 0
    assert out.schedule[0][1] == NOW + 3.0


def test_a_held_lock_or_rate_limit_gives_up_without_a_dead_letter() -> None:
    out, again = failure(Queue(), spec(), call(), TaskLockedException("l"), "tb", NOW)
    assert again is None and out.dead is None and out.results
    limited, again = failure(Queue(), spec(), call(), RateLimitExceeded("k", 1, False), "", NOW)
    assert again is None and limited.dead is None


def test_cancel_execution_fails_the_call_or_retries_when_asked() -> None:
    out, again = failure(Queue(), spec(), call(), CancelExecution("no"), "", NOW)
    assert again is None and out.results and out.dead is None
    out, again = failure(Queue(), spec(), call(retries=2), CancelExecution(), "", NOW)
    assert again is not None and again.retries == 1
    out, again = failure(Queue(), spec(), call(retries=2), CancelExecution(retry=False), "", NOW)
    assert again is None and out.results
    out, again = failure(Queue(), spec(), call(), CancelExecution(retry=True), "", NOW)
    assert again is not None and out.enqueue


def test_the_final_failure_fails_the_pipeline_runs_the_handler_and_dead_letters() -> None:
    task = call()
    later = Task(name="later")
    task.error(Task(name="handler")).then(later)  # the handler of the first stage
    out, again = failure(Queue(), spec(), task, ValueError("boom"), "Traceback\nValueError", NOW)
    assert again is None
    keys = [key for key, _ in out.results]
    assert keys == [f"result:{task.id}", f"result:{later.id}"]
    assert json.loads(out.results[0][1])["error"]["type"] == "ValueError"
    (handler,) = out.enqueue
    info = decoded(handler).args[-1]
    assert info["error"] == "ValueError('boom')" and info["task_id"] == task.id
    assert out.dead == (REASON_FAILED, "ValueError\nTraceback\nValueError")


def test_member_values_in_order() -> None:
    values = member_values([{"value": 1}, {"error": {"error": "E"}}, {"skipped": True}])
    assert values[0] == 1
    assert isinstance(values[1], Error) and values[1].metadata == {"error": "E"}
    assert values[2] == SKIPPED
