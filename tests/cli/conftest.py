"""Fixtures of the CLI tests: ``q``, a queue on Redis and on SQLite with its CLI arguments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import (
    Queue,
    register,
)

from engine import RedisHuey, SqliteHuey
from engine.api import Huey


@pytest.fixture(params=["redis", "sqlite"])
def q(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Queue]:
    name = f"cli-{uuid.uuid4().hex[:12]}"
    huey: Huey
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        huey = RedisHuey(name, url=url)
    else:
        path = tmp_path / "q.db"
        huey = SqliteHuey(name, filename=str(path))
        huey.pending_count()  # creates the file: hueyctl never does
        url = f"sqlite:///{path}"
    register(huey)
    yield Queue(huey, url, request.param)
    huey.flush()
    huey.storage.close()
