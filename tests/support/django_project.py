"""A real Django project in a directory, for engine.contrib.djhuey's tests: settings
with ``HUEY`` and ``TASKS``, an app ``shop`` with a model and a ``tasks.py``, and a
SQLite database migrated by ``manage.py migrate``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

MANAGE = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test"
DEBUG = True  # immediate mode would follow it: the HUEY dict says otherwise
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django_tasks",
    "engine.contrib.djhuey",
    "shop",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
HUEY = {
    "huey_class": os.environ.get("DJ_HUEY_CLASS", "engine.RedisHuey"),
    "name": os.environ["DJ_QUEUE"],
    "immediate": os.environ.get("DJ_IMMEDIATE") == "1",
    "results": True,
    "utc": True,
    "connection": {"url": os.environ["DJ_REDIS_URL"], "read_timeout": 1},
    "consumer": {
        "workers": 2,
        "worker_type": "thread",
        "lease": 3.0,
        "heartbeat_interval": 1.0,
        "recovery_interval": 1.0,
        "shutdown_timeout": 2.0,
    },
}
TASKS = {"default": {"BACKEND": "engine.contrib.djhuey.tasks_backend.HueyBackend"}}
"""

MODELS = """
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=100)
"""

TASKS = """
import os
import time

from django_tasks import task as django_task

from engine import crontab
from engine.contrib.djhuey import db_periodic_task, db_task, task

from .models import Note


@db_task()
def write_note(text):
    Note.objects.create(text=text)
    return Note.objects.filter(text=text).count()


@db_task()
def slow_note(text, marker, seconds):
    # Each attempt leaves its pid in the marker file, then works a while.
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(seconds)
    Note.objects.create(text=text)


@db_periodic_task(crontab(minute="*"))
def tick():
    Note.objects.create(text="tick")


@task()
def square(n):
    return n * n


@django_task()
def add(a, b):
    return a + b


@django_task()
def explode(text):
    raise ValueError(text)


@django_task(takes_context=True)
def attempt(context, x):
    return [context.attempt, x]


@django_task()
def nap(seconds):
    time.sleep(seconds)
    return seconds


@django_task(priority=5)
def count_notes():
    return Note.objects.count()
"""


def write_project(root: Path) -> Path:
    """Write the project under ``root``; returns its directory."""
    files = {
        "manage.py": MANAGE,
        "mysite/__init__.py": "",
        "mysite/settings.py": SETTINGS,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/tasks.py": TASKS,
        "shop/migrations/__init__.py": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def project_env(root: Path, queue: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment a process of the project runs with."""
    env = dict(os.environ, DJ_QUEUE=queue, DJ_REDIS_URL=redis_url, **extra)
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    env.pop("HUEYCTL_URL", None)
    env.pop("HUEYCTL_APP", None)
    env.pop("HUEYCTL_QUEUE", None)
    return env


def manage(root: Path, env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run ``manage.py ARGS`` to completion; its output (raises on failure)."""
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout + out.stderr
