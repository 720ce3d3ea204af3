"""Import an application's queue from a ``module.attr`` path, or open one from a URL.

Facade floor. ``connect`` (a queue from a store URL) lives with the ``Huey``
classes it builds in ``engine.api``, URL schemes and masking in ``engine.urls``;
both stay importable from here for callers that know them by this path.
"""

from __future__ import annotations

import importlib
import os
import sys

from .api import Huey, connect
from .exceptions import ConfigurationError
from .urls import mask_url

__all__ = ["connect", "load", "load_queue", "mask_url"]


def load(path: str) -> object:
    """``main.huey`` → the ``huey`` attribute of module ``main`` (cwd on sys.path).

    Errors are one line saying what to fix; an ImportError raised *inside* the
    application's module is reported as such, not as "module not found".
    """
    module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(
            f"{path!r} is not an import path: use module.attribute, e.g. main.huey"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ConfigurationError(
                f"cannot import {module_name!r}: no such module (run from the directory "
                "that contains it, or put it on PYTHONPATH)"
            ) from exc
        raise ConfigurationError(f"importing {module_name!r} failed: {exc}") from exc
    except Exception as exc:
        raise ConfigurationError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(f"module {module_name!r} has no attribute {attr!r}") from None


def load_queue(path: str) -> Huey:
    """:func:`load`, for a path that must name a queue (``hueyctl --app``, ``hueyctl
    worker``): anything else is a ConfigurationError saying what it is instead."""
    huey = load(path)
    if not isinstance(huey, Huey):
        raise ConfigurationError(f"{path!r} is a {type(huey).__name__}, not a Huey queue")
    return huey
