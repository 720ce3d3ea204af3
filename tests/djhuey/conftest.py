"""engine.contrib.djhuey in this process: Django configured once, with a memory queue
in immediate mode (``DEBUG = True``, as a developer's settings). The tests that need a
real project and worker processes are in tests/system/test_django.py."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("django") is None or importlib.util.find_spec("django_tasks") is None:
    collect_ignore_glob = ["test_*.py"]  # the 'django' extra is not installed
else:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=True,
            USE_TZ=True,
            SECRET_KEY="unit",
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["django.contrib.contenttypes", "django_tasks", "engine.contrib.djhuey"],
            HUEY={"huey_class": "engine.MemoryHuey", "name": "unit", "consumer": {"workers": 3}},
            TASKS={"default": {"BACKEND": "engine.contrib.djhuey.tasks_backend.HueyBackend"}},
        )
        django.setup()
