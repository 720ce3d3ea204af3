"""A ``django.tasks`` backend on the queue of ``settings.HUEY``.

``TASKS = {'default': {'BACKEND': 'engine.contrib.djhuey.tasks_backend.HueyBackend'}}``
sends ``@task`` functions of Django's Tasks framework (Django 6's ``django.tasks``, or
the ``django-tasks`` backport on older Django) to this queue; ``run_huey`` or
``hueyctl worker engine.contrib.djhuey.HUEY`` runs them, and ``get_result(id)``,
``TaskResult.refresh()`` read their status, return value and errors back.

Every call travels as one task, :data:`SHIM` ("django.tasks"), whose arguments are the
function's import path, args and kwargs: a worker imports the function by its path,
so a task may live in any module. A failure is the queue's failure (an error result
and a dead letter, seen by ``hueyctl failed``); success stores a small record with the
return value and times. Where a call is (ready, scheduled, running, dead) is read
from the store, so READY and RUNNING need no extra write.

Results are read without being removed (Django's API reads them again): set
``HUEY['result_ttl']`` (seconds) so they do not pile up.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import os
import socket
import traceback
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections
from django.utils import timezone
from django.utils.module_loading import import_string

from engine.task import Task as Call

from .queue import HUEY


def _framework() -> str:
    """Django 6's ``django.tasks``, else the ``django_tasks`` backport."""
    try:
        if importlib.util.find_spec("django.tasks") is not None:
            return "django.tasks"
    except ImportError:
        pass
    return "django_tasks"


_PKG = _framework()
_base: Any = importlib.import_module(f"{_PKG}.base")
_backends: Any = importlib.import_module(f"{_PKG}.backends.base")
_errors: Any = importlib.import_module(f"{_PKG}.exceptions")
_signals: Any = importlib.import_module(f"{_PKG}.signals")
Status: Any = _base.TaskResultStatus

SHIM = "django.tasks"
_STATES = {"ready": Status.READY, "scheduled": Status.READY, "running": Status.RUNNING}


def normalize_json(value: Any) -> Any:
    """``value`` as JSON types (tuples become lists), as Django's own backends store it."""
    for path in (f"{_PKG}.utils", "django.utils.json"):
        try:
            return importlib.import_module(path).normalize_json(value)
        except (ImportError, AttributeError):
            continue
    raise ImproperlyConfigured(f"{_PKG} has no normalize_json")  # pragma: no cover


def _when(ts: float | None) -> dt.datetime | None:
    """Epoch seconds as Django shows time: aware UTC with USE_TZ, naive local without."""
    if ts is None:
        return None
    aware = dt.datetime.fromtimestamp(ts, dt.UTC)
    return aware if settings.USE_TZ else timezone.make_naive(aware)


def _result(task: Any, result_id: str, status: Any, args: Any, kwargs: Any, **times: Any) -> Any:
    result = _base.TaskResult(
        task=task,
        id=result_id,
        status=status,
        enqueued_at=_when(times.get("enqueued_at")),
        started_at=_when(times.get("started_at")),
        finished_at=_when(times.get("finished_at")),
        last_attempted_at=_when(times.get("started_at")),
        args=list(args),
        kwargs=dict(kwargs),
        backend=task.backend,
        errors=list(times.get("errors", ())),
        worker_ids=list(times.get("worker_ids", ())),
    )
    if "return_value" in times:
        object.__setattr__(result, "_return_value", times["return_value"])
    return result


def _django_task(module_path: str) -> Any:
    task = import_string(module_path)
    if not isinstance(task, _base.Task):
        raise TypeError(f"{module_path} is a {type(task).__name__}, not a django.tasks Task")
    return task


@HUEY.task(name=SHIM, context=True)
def run_django_task(module_path: str, args: list[Any], kwargs: dict[str, Any], task: Call) -> Any:
    """Run one django.tasks call in a worker (stale database connections closed around
    it); returns the record :meth:`HueyBackend.get_result` reads."""
    djtask = _django_task(module_path)
    started = _now()
    times: dict[str, Any] = dict(
        enqueued_at=task.enqueued_at, started_at=started, worker_ids=[_worker_id()]
    )
    running = _result(djtask, task.id, Status.RUNNING, args, kwargs, **times)
    backend = type(djtask.get_backend())
    _signals.task_started.send(sender=backend, task_result=running)
    close_old_connections()
    try:
        if djtask.takes_context:
            value = djtask.call(_base.TaskContext(task_result=running), *args, **kwargs)
        else:
            value = djtask.call(*args, **kwargs)
        value = normalize_json(value)
    except Exception as exc:
        error = _base.TaskError(
            exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
            traceback="".join(traceback.format_exception(exc)),
        )
        times.update(finished_at=_now(), errors=[error])
        failed = _result(djtask, task.id, Status.FAILED, args, kwargs, **times)
        _signals.task_finished.send(sender=backend, task_result=failed)
        raise
    finally:
        close_old_connections()
    times.update(finished_at=_now(), return_value=value)
    done = _result(djtask, task.id, Status.SUCCESSFUL, args, kwargs, **times)
    _signals.task_finished.send(sender=backend, task_result=done)
    return {"task": module_path, "args": args, "kwargs": kwargs, **times}


def _worker_id() -> str:
    """host:pid of the process running the call (a forked worker has its own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> float:
    return float(timezone.now().timestamp())


class HueyBackend(_backends.BaseTaskBackend):
    """django.tasks backend: calls go onto ``engine.contrib.djhuey.HUEY``.

    Supports run_after (a scheduled task), priority (higher first, -100 to 100) and
    get_result from any process. ``QUEUES`` (Django's queue names) are accepted; every
    call goes onto the one queue of ``settings.HUEY``.
    """

    supports_defer = True
    supports_get_result = True
    supports_priority = True
    supports_async_task = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.huey = HUEY

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        """Put one call on the queue; its TaskResult is READY, with the queue's task id."""
        self.validate_task(task)
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        call = run_django_task.s(task.module_path, args, kwargs)
        call.priority = task.priority
        if task.run_after is not None:
            call.due_at = task.run_after.timestamp()
        now = _now()
        self.huey.enqueue(call)
        result = _result(task, call.id, Status.READY, args, kwargs, enqueued_at=now)
        _signals.task_enqueued.send(sender=type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> Any:
        """The call's TaskResult now: READY (queued or scheduled), RUNNING, SUCCESSFUL
        with its return value, or FAILED with its error; TaskResultDoesNotExist for an
        id this queue does not hold (or whose result expired)."""
        where = self.huey.storage.locate(result_id)  # before the result: it may finish now
        rec = self.huey.read_result(result_id, preserve=True)
        value = rec.get("value") if isinstance(rec, dict) else None
        if isinstance(value, dict) and "return_value" in value:
            task = _django_task(value["task"])
            fields = {k: v for k, v in value.items() if k not in ("task", "args", "kwargs")}
            return _result(
                task, result_id, Status.SUCCESSFUL, value["args"], value["kwargs"], **fields
            )
        if where is None:
            raise _errors.TaskResultDoesNotExist(result_id)
        call = self.huey.envelope.decode(where.data, where.id)
        if call.registered_name != SHIM:
            raise _errors.TaskResultDoesNotExist(f"{result_id} is not a django.tasks call")
        module_path, args, kwargs = call.args
        task = _django_task(module_path)
        times: dict[str, Any] = {"enqueued_at": call.enqueued_at}
        if where.state == "running":
            # The consumer id is host:pid:nonce; the finished record says host:pid.
            worker = (where.consumer or "?").rsplit(":", 1)[0]
            times.update(started_at=where.since, worker_ids=[worker])
            return _result(task, result_id, Status.RUNNING, args, kwargs, **times)
        if where.state != "dead":
            return _result(task, result_id, _STATES[where.state], args, kwargs, **times)
        error = rec.get("error") if isinstance(rec, dict) else None
        times.update(finished_at=where.since, errors=[_task_error(error, where.error)])
        return _result(task, result_id, Status.FAILED, args, kwargs, **times)

    def check(self, **kwargs: Any) -> list[Any]:
        """A queue that stores no results cannot answer get_result."""
        from django.core import checks

        if self.huey.results:
            return []
        return [
            checks.Error(
                "settings.HUEY stores no results ('results': False): the django.tasks "
                "backend reads them back",
                id="djhuey.E001",
            )
        ]


def _task_error(meta: Any, why: str | None) -> Any:
    """Django's TaskError for a dead letter: the error result's class and traceback, or
    the queue's reason (e.g. delivered too often without finishing)."""
    if isinstance(meta, dict):
        path = meta.get("type_path") or f"builtins.{meta.get('type', 'Exception')}"
        return _base.TaskError(exception_class_path=path, traceback=meta.get("traceback") or "")
    return _base.TaskError(
        exception_class_path="engine.exceptions.EngineError", traceback=why or "dead letter"
    )
