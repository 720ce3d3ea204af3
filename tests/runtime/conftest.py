"""Shared fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine import MemoryHuey
from engine.api import Huey
from engine.storage.base import Storage


@pytest.fixture
def huey(make_storage: Callable[..., Storage]) -> Huey:
    """A queue on a fresh store of each backend."""
    h = MemoryHuey("test-runtime")
    h.storage = make_storage()
    return h
