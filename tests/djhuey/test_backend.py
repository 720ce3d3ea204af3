"""The django.tasks backend on a memory queue, in this process: statuses, return
values, errors, run_after and priority, get_result by id. A worker process runs it in
tests/system/test_django.py."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from django.db import transaction
from django_tasks import TaskResultStatus, default_task_backend, task_backends
from django_tasks import task as django_task
from django_tasks.exceptions import TaskResultDoesNotExist

from engine import MemoryHuey
from engine.contrib.djhuey import HUEY, db_task, on_commit_task
from engine.contrib.djhuey.tasks_backend import SHIM, HueyBackend
from engine.executor import Executor

RAN: list[str] = []


@django_task()
def add(a: int, b: int) -> int:
    return a + b


@django_task(priority=7)
def explode(text: str) -> None:
    raise KeyError(text)


@db_task()
def note(text: str) -> str:
    RAN.append(text)
    return text


@on_commit_task()
def after_commit(text: str) -> None:
    RAN.append(text)


@pytest.fixture
def queued() -> Iterator[None]:
    """Calls stay queued (immediate mode off) until run() drains them."""
    HUEY.immediate = False
    try:
        yield
    finally:
        HUEY.flush()
        HUEY.immediate = True


def run() -> None:
    worker = Executor(HUEY, consumer_id="unit")
    while worker.step(time.time()):
        pass


def test_the_project_queue_is_the_setting() -> None:
    assert type(HUEY) is MemoryHuey and HUEY.name == "unit" and HUEY.immediate
    assert SHIM in HUEY.tasks
    assert isinstance(task_backends["default"], HueyBackend)


def test_a_call_is_ready_then_successful(queued: None) -> None:
    res = add.enqueue(2, 3)
    assert res.status == TaskResultStatus.READY and res.args == [2, 3]
    assert default_task_backend.get_result(res.id).status == TaskResultStatus.READY
    run()
    res.refresh()
    assert (res.status, res.return_value, res.attempts) == (TaskResultStatus.SUCCESSFUL, 5, 1)
    assert res.started_at is not None and res.finished_at >= res.started_at
    assert add.get_result(res.id).return_value == 5  # read again: results are kept


def test_a_failure_carries_the_class_path_and_traceback(queued: None) -> None:
    res = explode.enqueue("boom")
    run()
    res.refresh()
    assert res.status == TaskResultStatus.FAILED
    (error,) = res.errors
    assert error.exception_class is KeyError and "KeyError: 'boom'" in error.traceback
    assert HUEY.storage.counts().dead == 1  # a failure is the queue's failure too


def test_run_after_and_priority_reach_the_queue(queued: None) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    res = add.using(run_after=later, priority=-3).enqueue(1, 1)
    (call,) = HUEY.scheduled()
    assert call.id == res.id and call.priority == -3
    assert abs(call.due_at - later.timestamp()) < 1e-3
    assert add.get_result(res.id).status == TaskResultStatus.READY


def test_immediate_mode_runs_at_enqueue() -> None:
    res = add.enqueue(4, 5)
    assert add.get_result(res.id).return_value == 9


def test_unknown_ids_do_not_exist(queued: None) -> None:
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result("no-such-id")
    other = note.s("x")
    HUEY.enqueue(other)
    with pytest.raises(TaskResultDoesNotExist, match="not a django.tasks call"):
        default_task_backend.get_result(other.id)


def test_a_queue_without_results_fails_the_check() -> None:
    backend = HueyBackend("other", {})
    assert backend.check() == []
    backend.huey = MemoryHuey("nores", results=False)
    (error,) = backend.check()
    assert error.id == "djhuey.E001"


def test_db_task_registers_the_function_and_keeps_call_local() -> None:
    assert HUEY.registered(f"{__name__}.note") is note
    assert note.call_local("local") == "local"
    assert note("queued").get() == "queued"


def test_on_commit_task_waits_for_the_commit() -> None:
    RAN.clear()
    with transaction.atomic():
        after_commit("kept")
        assert RAN == []
    try:
        with transaction.atomic():
            after_commit("dropped")
            raise RuntimeError
    except RuntimeError:
        pass
    assert RAN == ["kept"]
