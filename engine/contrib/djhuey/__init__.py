"""huey's ``huey.contrib.djhuey`` on hueyctl's queue: the same settings, names and
``manage.py run_huey``, with at-least-once delivery.

A huey + Django project changes three things (docs/django.md): the ``INSTALLED_APPS``
entry (``'engine.contrib.djhuey'``), the ``huey_class`` in ``settings.HUEY``
(``'engine.RedisHuey'``), and its imports (``from engine.contrib.djhuey import
task, db_task ...``). ``HUEY`` here is the configured queue (see
:mod:`engine.contrib.djhuey.config`); the decorators and actions below are its methods,
as in huey.

Each installed app's ``tasks.py`` is imported when Django starts (AppConfig.ready), in
every process. Imported outside Django (``hueyctl --app engine.contrib.djhuey.HUEY``
with ``DJANGO_SETTINGS_MODULE`` set), this module starts Django itself, so the tasks
are registered for ``hueyctl worker`` and ``hueyctl top`` as for ``run_huey``.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

import django
from django.apps import apps
from django.db import close_old_connections, transaction

from engine.result import Result
from engine.wrapper import TaskWrapper

from .config import default_queue_name
from .queue import HUEY

# Function decorators.
task = HUEY.task
periodic_task = HUEY.periodic_task
lock_task = HUEY.lock_task

# Task management.
enqueue = HUEY.enqueue
restore = HUEY.restore
restore_all = HUEY.restore_all
restore_by_id = HUEY.restore_by_id
revoke = HUEY.revoke
revoke_all = HUEY.revoke_all
revoke_by_id = HUEY.revoke_by_id
is_revoked = HUEY.is_revoked
result = HUEY.result
scheduled = HUEY.scheduled

# Hooks.
on_startup = HUEY.on_startup
on_shutdown = HUEY.on_shutdown
pre_execute = HUEY.pre_execute
post_execute = HUEY.post_execute
signal = HUEY.signal
disconnect_signal = HUEY.disconnect_signal


def close_db(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task function so stale database connections are closed before and after
    each call in a worker (not in immediate mode, where the call runs in the caller's
    request)."""

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        if not HUEY.immediate:
            close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            if not HUEY.immediate:
                close_old_connections()

    return inner


def db_task(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """``@task(...)`` for a function that uses the database (see :func:`close_db`);
    ``call_local`` runs the bare function."""

    def decorator(fn: Callable[..., Any]) -> TaskWrapper:
        wrapper = task(*args, **kwargs)(close_db(fn))
        wrapper.call_local = fn  # type: ignore[method-assign]
        return wrapper

    return decorator


def db_periodic_task(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """``@periodic_task(...)`` for a function that uses the database (see :func:`close_db`)."""

    def decorator(fn: Callable[..., Any]) -> TaskWrapper:
        wrapper = periodic_task(*args, **kwargs)(close_db(fn))
        wrapper.call_local = fn  # type: ignore[method-assign]
        return wrapper

    return decorator


def on_commit_task(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """A task enqueued only when the current transaction commits (never if it rolls
    back). The call returns its Result at once, as huey's; for the wrapper's other
    methods register the function a second time with :func:`task`."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Result]:
        wrapper = task(*args, **kwargs)(close_db(fn))

        @functools.wraps(fn)
        def inner(*a: Any, **k: Any) -> Result:
            call = wrapper.s(*a, **k)
            transaction.on_commit(lambda: HUEY.enqueue(call))
            return Result(HUEY, call)

        inner.call_local = fn  # type: ignore[attr-defined]
        return inner

    return decorator


def _has_tasks_framework() -> bool:
    try:
        return importlib.util.find_spec("django.tasks") is not None
    except ImportError:
        return False


if _has_tasks_framework() or importlib.util.find_spec("django_tasks") is not None:
    # Registers the task that runs django.tasks calls (see tasks_backend).
    from . import tasks_backend as tasks_backend

__all__ = [
    "HUEY",
    "close_db",
    "db_periodic_task",
    "db_task",
    "default_queue_name",
    "disconnect_signal",
    "enqueue",
    "is_revoked",
    "lock_task",
    "on_commit_task",
    "on_shutdown",
    "on_startup",
    "periodic_task",
    "post_execute",
    "pre_execute",
    "restore",
    "restore_all",
    "restore_by_id",
    "result",
    "revoke",
    "revoke_all",
    "revoke_by_id",
    "scheduled",
    "signal",
    "task",
]

# Imported outside Django's start-up (hueyctl --app engine.contrib.djhuey.HUEY): start
# Django now, which imports each app's tasks.py (they import this module, complete by
# now). During start-up itself (apps.loading) Django is already on its way.
if not apps.ready and not apps.loading:
    django.setup()
