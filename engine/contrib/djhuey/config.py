"""The queue a Django project configures in ``settings.HUEY``.

``HUEY`` is a dict, as for huey's djhuey (``huey_class``, ``name``, ``results``,
``store_none``, ``immediate`` defaulting to ``settings.DEBUG``, ``utc``,
``connection`` {``host``, ``port``, ``db``, ``url``, ``connection_pool``, ...},
``consumer`` {options of ``manage.py run_huey``} and any other queue option), or a
queue instance (``HUEY = RedisHuey('my-app')``). Without it: a Redis queue on
localhost named after the default database, as huey.

``huey_class`` names one of our classes (``'engine.RedisHuey'``). huey's own paths
(``'huey.RedisHuey'``, ``'huey.api.SqliteHuey'`` ...) are read as ours, with a system
check warning (``djhuey.W001``) that asks for the edit; a huey class with no
counterpart here (``SqlHuey``, Valkey) is refused.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from engine.api import Huey
from engine.exceptions import ConfigurationError

DEFAULT_CLASS = "engine.RedisHuey"

# huey's queue classes that have a counterpart here (same name, same options).
HUEY_CLASSES = frozenset(
    {
        "RedisHuey",
        "PriorityRedisHuey",
        "RedisExpireHuey",
        "PriorityRedisExpireHuey",
        "SqliteHuey",
        "MemoryHuey",
        "BlackHoleHuey",
    }
)


def default_queue_name() -> str:
    """The queue name without a ``name`` key: the default database's NAME, as huey."""
    try:
        return str(settings.DATABASES["default"]["NAME"])
    except (AttributeError, KeyError):
        return "huey"


def huey_path(path: str) -> str | None:
    """Our class path for one of huey's (``'huey.RedisHuey'`` → ``'engine.RedisHuey'``);
    None when ``path`` is not huey's."""
    module, _, name = path.rpartition(".")
    if module not in ("huey", "huey.api"):
        if module == "huey" or module.startswith("huey."):
            raise ImproperlyConfigured(
                f"HUEY['huey_class'] = {path!r} has no counterpart in hueyctl: use "
                "'engine.RedisHuey' or 'engine.SqliteHuey'"
            )
        return None
    if name not in HUEY_CLASSES:
        raise ImproperlyConfigured(
            f"HUEY['huey_class'] = {path!r} is not a huey queue class: use 'engine.RedisHuey'"
        )
    return f"engine.{name}"


def queue_class(path: str) -> type[Huey]:
    """The queue class a ``huey_class`` path names (huey's paths read as ours)."""
    path = huey_path(path) or path
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"HUEY['huey_class']: cannot import {path!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Huey)):
        raise ImproperlyConfigured(
            f"HUEY['huey_class'] = {path!r} is not a queue class: use 'engine.RedisHuey'"
        )
    return cls


def queue_from_dict(config: dict[str, Any]) -> Huey:
    """A queue built from a ``HUEY`` dict, as huey's djhuey builds one."""
    options = dict(config)
    name = options.pop("name", None) or default_queue_name()
    cls = queue_class(options.pop("huey_class", DEFAULT_CLASS))
    connection = options.pop("connection", None) or {}
    options.pop("consumer", None)  # run_huey's options
    options.setdefault("immediate", settings.DEBUG)
    options.update(connection)
    try:
        return cls(name, **options)
    except (ConfigurationError, TypeError) as exc:
        raise ImproperlyConfigured(f"settings.HUEY: {exc}") from None


def queue_from_settings() -> Huey:
    """The project's queue: ``settings.HUEY`` as a dict or a queue instance."""
    setting = getattr(settings, "HUEY", None)
    if setting is None:
        return queue_from_dict({"immediate": False})
    if isinstance(setting, dict):
        return queue_from_dict(setting)
    if isinstance(setting, Huey):
        return setting
    kind = f"{type(setting).__module__}.{type(setting).__name__}"
    hint = (
        "build it with hueyctl's class (from engine import RedisHuey)"
        if kind.startswith("huey.")
        else "use a dict or a queue (from engine import RedisHuey; HUEY = RedisHuey('app'))"
    )
    raise ImproperlyConfigured(f"settings.HUEY is a {kind}: {hint}")


def consumer_settings() -> dict[str, Any]:
    """``settings.HUEY['consumer']``: run_huey's defaults (a dict; {} without one)."""
    setting = getattr(settings, "HUEY", None)
    consumer = setting.get("consumer", {}) if isinstance(setting, dict) else {}
    if not isinstance(consumer, dict):
        raise ImproperlyConfigured("settings.HUEY['consumer'] must be a dict of consumer options")
    return dict(consumer)


def huey_class_warning() -> tuple[str, str] | None:
    """System check ``djhuey.W001``: (what it says, our path) when ``huey_class`` is
    huey's path; None otherwise."""
    setting = getattr(settings, "HUEY", None)
    path = setting.get("huey_class") if isinstance(setting, dict) else None
    if not isinstance(path, str):
        return None
    try:
        ours = huey_path(path)
    except ImproperlyConfigured:
        return None
    if ours is None:
        return None
    return f"HUEY['huey_class'] = {path!r} names huey's class: {ours!r} is used", ours
