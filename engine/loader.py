"""Import an application's queue from a ``module.attr`` path."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from .exceptions import ConfigurationError


def load(path: str) -> Any:
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


def connect(url: str, queue: str = "huey") -> Any:
    """A queue from a URL, without the application's code.

    ``redis://[:password@]host[:port][/db]``, ``rediss://`` (TLS), ``unix:///path``,
    ``redis+cluster://node:port`` (Redis Cluster), ``redis+sentinel://host:26379/master``,
    ``sqlite:///relative.db`` or ``sqlite:////absolute.db``, and ``memory://``.
    """
    from .api import MemoryHuey, RedisHuey, SqliteHuey

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix") or scheme.endswith(("+cluster", "+sentinel")):
        return RedisHuey(queue, url=url)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigurationError(f"invalid SQLite URL {url!r}: use sqlite:///path/to/file.db")
        return SqliteHuey(queue, filename=path)
    if scheme == "memory":
        return MemoryHuey(queue)
    raise ConfigurationError(
        f"unsupported store URL {mask_url(url)!r}: use redis://, rediss://, unix://, "
        "redis+cluster://, redis+sentinel://, sqlite:/// or memory://"
    )


def mask_url(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url.split("@")[-1]
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))
