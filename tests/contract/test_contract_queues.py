"""The storage contract's list of queues (``announce``/``queue_names``) and the maps a
worker's catalog lives in, on every backend (tests/conftest.py ``make_storage``).

A queue is listed once announced (workers at start, producers at their first write),
whatever it holds; Redis and SQLite also list queues that hold anything but never
announced (written by an older release), Redis within a scan budget. A memory store
holds its own queue only, and always lists it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest

from engine.keys import CATALOG, WORKERS
from engine.storage.base import Message, Storage, new_task_id


@pytest.fixture
def siblings(make_storage: Callable[..., Storage]) -> Iterator[tuple[Storage, Storage]]:
    """Two queues of one store (memory: two stores, each its own world)."""
    first = make_storage()
    second = _sibling(first, f"test-{uuid.uuid4().hex}")
    yield first, second
    second.destroy()
    second.close()


def _sibling(storage: Storage, name: str) -> Storage:
    if type(storage).__name__ == "SqliteStorage":
        return type(storage)(name=name, filename=storage.path)  # type: ignore[call-arg, attr-defined]
    if type(storage).__name__ == "RedisStorage":
        return type(storage)(name=name, url=storage.url, lease_clock="caller")  # type: ignore[call-arg, attr-defined]
    return type(storage)(name=name)


def test_an_announced_queue_is_listed_once(siblings: tuple[Storage, Storage]) -> None:
    first, second = siblings
    memory = type(first).__name__ == "MemoryStorage"
    if not memory:  # nothing written, nothing announced: not a queue of the store yet
        names, complete = first.queue_names(0)
        assert first.name not in names and second.name not in names and complete
    first.announce()
    first.announce()
    names, complete = first.queue_names(0)
    assert names.count(first.name) == 1 and complete
    if not memory:  # the other queue of the store sees it too, and not itself yet
        seen, _ = second.queue_names(0)
        assert first.name in seen and second.name not in seen
    second.announce_once()
    second.announce_once()
    assert second.name in second.queue_names(0)[0]
    assert names == sorted(names)


def test_a_queue_that_holds_anything_is_found_without_announcing(
    siblings: tuple[Storage, Storage],
) -> None:
    first, second = siblings
    second.enqueue([Message(new_task_id(), b"x")])
    found = first.queue_names()
    assert found is not None
    names, complete = found
    if type(first).__name__ != "MemoryStorage":
        assert second.name in names and complete
    if type(first).__name__ == "RedisStorage":
        # a scan cut short says so; what was announced is there regardless
        first.announce()
        cut = first.queue_names(1)
        assert cut is not None and first.name in cut[0]


def test_destroy_takes_the_queue_off_the_list(siblings: tuple[Storage, Storage]) -> None:
    first, second = siblings
    if type(first).__name__ == "MemoryStorage":
        pytest.skip("a memory store always lists its own queue")
    second.announce()
    second.map_set(WORKERS, "c1", b"{}")
    assert second.name in first.queue_names(0)[0]
    second.destroy()
    assert second.name not in first.queue_names()[0]  # type: ignore[index]


def test_the_catalog_map_holds_what_a_worker_publishes(storage: Storage) -> None:
    book = {"tasks": {"m.add": {"retries": 0, "retry_delay": 0.0, "params": []}}}
    data = json.dumps(book).encode() * 50  # a catalog of many tasks is a few KB
    storage.map_set(CATALOG, "0123456789abcdef", data)
    storage.map_set(WORKERS, "c1", b'{"catalog":"0123456789abcdef"}')
    assert storage.map_items(CATALOG) == {"0123456789abcdef": data}
    assert storage.map_delete(CATALOG, "0123456789abcdef") is True
    assert storage.map_items(CATALOG) == {}
    assert storage.map_items(WORKERS) == {"c1": b'{"catalog":"0123456789abcdef"}'}
