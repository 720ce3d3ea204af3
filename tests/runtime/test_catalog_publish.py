"""Workers publish their catalog: the tasks they serve, written at the first heartbeat
(not per task), named by their registry record, shared by workers of one app, and
dropped with the last worker that names it. Run on every backend with an injected
clock (``consumer.step(now)``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from engine import MemoryHuey, crontab
from engine.api import Huey
from engine.consumer import CATALOG_BEATS, Consumer
from engine.inspect import Inspector
from engine.keys import CATALOG, WORKERS
from engine.storage.base import Storage


def app(make_storage: Callable[..., Storage], storage: Storage | None = None) -> Huey:
    """The same application, as each worker process would import it."""
    h = MemoryHuey("test-catalog")
    h.storage = storage or make_storage()

    @h.task(name="m.count_beans", retries=2)
    def count_beans(n: int, *, color: str = "red") -> int:
        return n

    @h.periodic_task(crontab(minute="*/5"), name="m.tick")
    def tick() -> None:
        pass

    return h


def consumer(huey: Huey, cid: str, now: list[float], **options: Any) -> Consumer:
    return Consumer(huey, consumer_id=cid, lease=10, clock=lambda: now[0], **options)


@pytest.fixture
def store(make_storage: Callable[..., Storage]) -> Storage:
    return make_storage()


def test_workers_of_one_app_share_one_catalog(
    make_storage: Callable[..., Storage], store: Storage
) -> None:
    now = [time.time()]
    a, b = app(make_storage, store), app(make_storage, store)
    ca, cb = consumer(a, "A", now), consumer(b, "B", now)
    ca.step(now[0])
    cb.step(now[0])
    books = store.map_items(CATALOG)
    assert list(books) == [ca.catalog_digest] and ca.catalog_digest == cb.catalog_digest
    for cid in ("A", "B"):
        assert json.loads(store.map_items(WORKERS)[cid])["catalog"] == ca.catalog_digest
    names = store.queue_names(0)
    assert names is not None and store.name in names[0]  # the queue is on the store's list

    # a tool with no application code: the store's name only
    tool = Inspector(MemoryHuey(store.name), clock=lambda: now[0])
    tool.huey.storage = store
    assert tool.published_names() == {"m.count_beans", "m.tick"}
    entries = {e.name: e for e in tool.catalog()}
    beans = entries["m.count_beans"]
    assert beans.workers == ("A", "B") and not beans.in_app and beans.retries == 2
    assert beans.signature == "(n, *, color='red')"
    assert [p.name for p in beans.params or ()] == ["n", "color"]
    assert entries["m.tick"].periodic == "*/5 * * * *" and entries["m.tick"].signature == "()"
    assert tool.check_call("m.count_beans", [7], {}) is None
    assert tool.check_call("m.count_beans", [7, 8], {}) == (
        "m.count_beans(n, *, color='red'): too many positional arguments"
    )
    assert tool.check_call("m.unknown", [1, 2, 3], {}) is None  # nothing known: no check


def test_the_catalog_is_written_at_start_then_about_once_a_minute(
    make_storage: Callable[..., Storage], store: Storage
) -> None:
    now = [time.time()]
    huey = app(make_storage, store)
    c = consumer(huey, "A", now)
    c.beat(now[0])
    store.map_delete(CATALOG, c.catalog_digest)  # e.g. a sibling that stopped took it
    for _ in range(CATALOG_BEATS - 1):
        now[0] += 1
        c.beat(now[0])
        assert store.map_items(CATALOG) == {}  # heartbeats stay one registry write
    now[0] += 1
    c.beat(now[0])
    assert list(store.map_items(CATALOG)) == [c.catalog_digest]


def test_the_last_worker_to_stop_drops_the_catalog(
    make_storage: Callable[..., Storage], store: Storage
) -> None:
    now = [time.time()]
    ca = consumer(app(make_storage, store), "A", now)
    cb = consumer(app(make_storage, store), "B", now)
    ca.step(now[0])
    cb.step(now[0])
    ca.shutdown()
    assert list(store.map_items(CATALOG)) == [cb.catalog_digest]  # B still names it
    cb.shutdown()
    assert store.map_items(CATALOG) == {} and store.map_items(WORKERS) == {}


def test_a_lapsed_workers_catalog_goes_with_its_registry_entry(
    make_storage: Callable[..., Storage], store: Storage
) -> None:
    now = [time.time()]
    other = MemoryHuey("test-catalog")
    other.storage = store

    @other.task(name="m.other")
    def other_task() -> None:
        pass

    dead = consumer(other, "DEAD", now)
    dead.step(now[0])
    live = consumer(app(make_storage, store), "LIVE", now, recovery_interval=1)
    live.step(now[0])
    assert len(store.map_items(CATALOG)) == 2
    insp = Inspector(app(make_storage, store), clock=lambda: now[0] + 15)
    entry = {e.name: e for e in insp.catalog()}["m.other"]
    assert entry.workers == () and entry.stale == ("DEAD",)  # listed, marked stale
    now[0] += 60  # DEAD never beats again; LIVE does, and sweeps
    live.step(now[0])
    assert set(store.map_items(WORKERS)) == {"LIVE"}
    assert list(store.map_items(CATALOG)) == [live.catalog_digest]


def test_catalog_with_the_app_counts_each_tasks_calls(
    make_storage: Callable[..., Storage], store: Storage
) -> None:
    huey = app(make_storage, store)

    @huey.task(name="m.only_here")
    def only_here(x: int, task: Any = None) -> None:
        pass

    for n in range(3):
        huey.enqueue_by_name("m.count_beans", (n,))
    huey.enqueue_by_name("m.count_beans", (9,), delay=3600)
    huey.enqueue_by_name("m.only_here", (1,))
    insp = Inspector(huey)
    entries = {e.name: e for e in insp.catalog()}
    beans = entries["m.count_beans"]
    assert (beans.pending, beans.scheduled, beans.running, beans.failed) == (3, 1, 0, 0)
    assert beans.counts_complete and beans.in_app and beans.workers == ()
    assert entries["m.only_here"].pending == 1
    cut = {e.name: e for e in insp.catalog(budget=2)}["m.count_beans"]
    assert cut.pending == 2 and not cut.counts_complete  # a lower bound, and says so
    # with the app loaded, its own function is the signature
    assert insp.check_call("m.count_beans", [1], {"colour": 2}) == (
        "m.count_beans(n, *, color='red'): got an unexpected keyword argument 'colour'"
    )
    assert insp.check_call("m.only_here", [1], {}) is None  # task= is the worker's


def test_a_store_that_refuses_the_queue_list_still_gets_the_catalog() -> None:
    """A Redis user made from an older ACL template has no SADD on hueyctl:queues: the
    worker's heartbeats, catalog and producers' writes go on without it."""
    from engine.exceptions import StoreDenied
    from engine.storage.memory import MemoryStorage

    class NoList(MemoryStorage):
        refused = 0

        def announce(self) -> None:
            NoList.refused += 1
            raise StoreDenied("NOPERM sadd", "sadd")

    now = [time.time()]
    huey = app(lambda: NoList("test-catalog"))
    c = consumer(huey, "A", now)
    for _ in range(3):
        c.beat(now[0])
        now[0] += 1
    assert list(huey.storage.map_items(CATALOG)) == [c.catalog_digest]
    assert json.loads(huey.storage.map_items(WORKERS)["A"])["heartbeat"] == now[0] - 1
    assert c.health.state == "ok" and NoList.refused == 1  # asked once, not every beat
    huey.enqueue_by_name("m.count_beans", (1,))  # a producer's first write: no error
    assert huey.pending_count() == 1
