"""Shared fixtures: one storage per backend, so a test written once runs on all of them.

* ``storage``: a fresh, empty store of each backend (memory, redis, sqlite).
* ``make_storage``: the factory behind it, for tests that need options
  (``make_storage(dead_cap=3)``) or a second store; every store it makes is
  destroyed and closed after the test.
* ``redis_url``: a reachable Redis database for tests (``HUEYCTL_TEST_REDIS_URL``,
  default db 15). Skips when Redis is down, but fails when ``CI`` is set.
  Tests only ever delete their own queue's keys (``destroy``), never FLUSHDB.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.storage.base import Storage

REDIS_URL = os.environ.get("HUEYCTL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ("memory", "redis", "sqlite")


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    from engine.storage.redis import mask_url

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {mask_url(REDIS_URL)}: {exc}"
        if _on_ci():
            pytest.fail(f"{message} (CI is set: the Redis service must be running)")
        pytest.skip(message)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; skips backends that cannot run here."""
    name: str = request.param
    if name == "sqlite" and importlib.util.find_spec("engine.storage.sqlite") is None:
        pytest.skip("sqlite backend not available")
    return name


@pytest.fixture
def make_storage(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Storage]]:
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    created: list[Storage] = []

    def make(**options: object) -> Storage:
        name = f"test-{uuid.uuid4().hex}"
        store: Storage
        if backend == "memory":
            from engine.storage.memory import MemoryStorage

            store = MemoryStorage(name=name, **options)
        elif backend == "redis":
            from engine.storage.redis import RedisStorage

            store = RedisStorage(name=name, url=url, **options)  # type: ignore[arg-type]
        else:
            sqlite = importlib.import_module("engine.storage.sqlite")
            path = tmp_path / (f"q{len(created)}.db" if created else "q.db")
            store = sqlite.SqliteStorage(name=name, filename=str(path), **options)
        created.append(store)
        return store

    yield make
    for store in reversed(created):
        try:
            store.destroy()
        finally:
            store.close()


@pytest.fixture
def storage(make_storage: Callable[..., Storage]) -> Storage:
    return make_storage()
