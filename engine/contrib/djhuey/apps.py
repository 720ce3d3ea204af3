"""The Django app ``engine.contrib.djhuey``: imports each installed app's ``tasks.py``
when Django starts, and checks ``settings.HUEY``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.utils.module_loading import autodiscover_modules


class DjHueyConfig(AppConfig):
    """``INSTALLED_APPS = [..., 'engine.contrib.djhuey']``."""

    name = "engine.contrib.djhuey"
    label = "djhuey"
    verbose_name = "hueyctl (djhuey)"

    def ready(self) -> None:
        """Register the project's tasks: every installed app's ``tasks`` module."""
        checks.register(check_huey_class)
        autodiscover_modules("tasks")


def check_huey_class(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``djhuey.W001``: ``huey_class`` names huey's class, read as ours."""
    from .config import huey_class_warning

    found = huey_class_warning()
    if found is None:
        return []
    said, ours = found
    return [checks.Warning(said, hint=f"write 'huey_class': {ours!r}", id="djhuey.W001")]
