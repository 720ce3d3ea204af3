"""``HUEY``: the project's queue, built once from ``settings.HUEY`` (see
:mod:`engine.contrib.djhuey.config`)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .config import queue_from_settings

if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ImproperlyConfigured(
        "engine.contrib.djhuey needs Django settings: set DJANGO_SETTINGS_MODULE "
        "(e.g. mysite.settings) and run from the project's directory"
    )

HUEY = queue_from_settings()
