"""Fixtures of the engine tests: a queue on each backend (``huey``), one on memory
(``mhuey``), and a local time zone of UTC+5:45 (``local_tz``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
from support.steps import (
    NEPAL,
    NEPAL_TZ,
)

from engine import (
    MemoryHuey,
)
from engine.api import Huey
from engine.storage.base import Storage


@pytest.fixture
def huey(make_storage: Callable[..., Storage]) -> Huey:
    """A queue on a fresh store of each backend."""
    h = MemoryHuey("test-engine")
    h.storage = make_storage()
    return h


@pytest.fixture
def mhuey() -> Huey:
    """A queue on memory only (store-independent behaviour tested once)."""
    return MemoryHuey("test-engine-memory")


@pytest.fixture
def local_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process' local time zone at UTC+5:45."""
    monkeypatch.setenv("TZ", NEPAL_TZ)
    time.tzset()
    assert (
        dt.datetime(2030, 1, 1, 12, 0).timestamp()
        == dt.datetime(2030, 1, 1, 12, 0, tzinfo=NEPAL).timestamp()
    )
    yield
    monkeypatch.undo()
    time.tzset()
