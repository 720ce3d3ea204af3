"""Facts that used to live in several places and now have one home (review §1.5).

Each test holds one home to its rule, or holds the places that must spell a fact
out (public signatures) to the one list of it: the paging walk
(``engine.inspect.scan``), promote-until-short (``Storage.promote_all``), the task
option names (``engine.task.CALL_OPTIONS``), the is-revoked rule
(``revocation.call_keys``, ``inspect.RevocationIndex``), the ``--task`` name
rule (``inspect.name_matches``), a URL's secrets (``urls.url_secrets``) and the
"is it a queue" check of ``--app`` (``loader.load_queue``).
"""

from __future__ import annotations

import dataclasses
import inspect as pyinspect
import sys
import types

import pytest

from engine import envelope, task
from engine.api import Huey, MemoryHuey
from engine.core import QueueCore
from engine.exceptions import ConfigurationError
from engine.ids import ID_LENGTH, new_task_id
from engine.inspect import Inspector, Revocation, RevocationIndex, Scan, name_matches, scan
from engine.loader import load_queue
from engine.revocation import call_keys
from engine.storage.base import PROMOTE_BATCH, Message
from engine.storage.memory import MemoryStorage
from engine.urls import mask_url, url_secrets
from engine.wrapper import TaskWrapper


# --- the paging walk ----------------------------------------------------------------------
class Pages:
    """A listing of ``items`` that records each fetch; ``gap`` drops one item from
    the first page (as a result key that vanished between listing and reading)."""

    def __init__(self, items: list[int], gap: bool = False) -> None:
        self.items, self.gap, self.calls = items, gap, []

    def __call__(self, start: int, n: int) -> list[int]:
        self.calls.append((start, n))
        page = self.items[start : start + n]
        return page[1:] if self.gap and start == 0 else page


def test_scan_skips_offset_and_stops_at_limit() -> None:
    fetch = Pages(list(range(100)))
    found = scan(fetch, lambda i: i % 2 == 0, offset=3, limit=4, page=10)
    assert found.items == [6, 8, 10, 12]
    assert fetch.calls == [(0, 10), (10, 10)]  # the page that fills the limit is the last read
    assert not found.complete


def test_scan_reads_to_a_short_page() -> None:
    fetch = Pages(list(range(25)))
    found = scan(fetch, lambda i: True, page=10)
    assert found == Scan(list(range(25)), 25, True)
    assert fetch.calls == [(0, 10), (10, 10), (20, 10)]


def test_scan_budget_caps_the_read() -> None:
    fetch = Pages(list(range(100)))
    found = scan(fetch, lambda i: i > 1000, limit=5, page=10, budget=25)
    assert (found.items, found.scanned, found.complete) == ([], 25, False)
    assert fetch.calls == [(0, 10), (10, 10), (20, 5)]


def test_scan_with_gaps_reads_on_past_a_short_page() -> None:
    found = scan(Pages(list(range(25)), gap=True), lambda i: True, page=10, gaps=True)
    assert found.items == list(range(1, 25))
    assert scan(Pages(list(range(25)), gap=True), lambda i: True, page=10).items == list(
        range(1, 10)
    )


def test_scan_with_no_room_reads_nothing() -> None:
    fetch = Pages(list(range(10)))
    assert scan(fetch, lambda i: True, limit=0).items == []
    assert fetch.calls == []


def test_inspector_filters_by_walking_pages() -> None:
    huey = MemoryHuey("one-home")

    @huey.task(name="jobs.add")
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task(name="jobs.other")
    def other() -> None:
        return None

    ids = [add.s(n, n) if n % 3 else other.s() for n in range(1200)]
    huey.enqueue_many(ids)
    insp = Inspector(huey)
    page = insp.pending(offset=5, limit=700, task="add")
    assert len(page) == 700 and {i.name for i in page} == {"jobs.add"}
    every_add = [c.id for c in ids if c.name == "jobs.add"]
    assert [i.id for i in page] == every_add[5:705]
    assert [i.id for i in insp.pending(0, 3, None, every_add[7][:30])] == [every_add[7]]


# --- promote until a batch comes back short ----------------------------------------------
def test_promote_all_moves_every_due_task() -> None:
    storage = MemoryStorage("one-home")
    n = PROMOTE_BATCH * 2 + 5
    storage.schedule([(Message(f"id{i:05}", b"{}", 0), 10.0) for i in range(n)])
    storage.schedule([(Message("later", b"{}", 0), 99.0)])
    assert storage.promote_all(50.0) == n
    counts = storage.counts()
    assert (counts.ready, counts.scheduled) == (n, 1)
    assert storage.promote_all(50.0) == 0


# --- the task option names ----------------------------------------------------------------
def _params(fn: object) -> set[str]:
    return set(pyinspect.signature(fn).parameters)  # type: ignore[arg-type]


def test_task_option_names_have_one_list() -> None:
    options = set(task.CALL_OPTIONS)
    assert options <= {f.name for f in dataclasses.fields(task.Task)}
    assert options <= {f.name for f in dataclasses.fields(task.TaskSpec)}
    # Public signatures spell them out (huey's API); they must all be there.
    for fn in (Huey.task, TaskWrapper.__init__, TaskWrapper.schedule, QueueCore.new_call):
        assert options <= _params(fn), fn
    # huey's periodic_task() has no retry_backoff.
    assert options - {"retry_backoff"} <= _params(Huey.periodic_task)
    assert task.RESERVED == ("id", "eta", "delay", *task.CALL_OPTIONS)
    assert set(task.CALL_OPTIONS) <= set(envelope._OPTIONS)


def test_s_sets_every_call_option() -> None:
    huey = MemoryHuey("one-home")

    @huey.task(retries=1, retry_delay=2, retry_backoff=1.5, priority=3, timeout=4)
    def work(x: int) -> int:
        return x

    call = work.s(1, retries=5, retry_delay=6, retry_backoff=2.0, priority=7, timeout=8, id="x")
    assert (call.retries, call.retry_delay, call.retry_backoff, call.priority, call.timeout) == (
        5,
        6,
        2.0,
        7,
        8,
    )
    assert call.id == "x" and call.args == (1,) and call.kwargs == {}
    assert huey.envelope.decode(huey.envelope.encode(call), call.id).retry_backoff == 2.0
    default = work.s(2)
    assert (default.retries, default.priority, default.timeout) == (1, 3, 4)
    by_name = huey.enqueue_by_name(work.name, (3,), priority=9)
    queued = huey.pending()
    assert [(t.id, t.priority, t.retries) for t in queued] == [(by_name.id, 9, 1)]


# --- is a task revoked ---------------------------------------------------------------------
def test_revocation_index_checks_the_id_then_the_name() -> None:
    by_id = Revocation("0190ab", "id", None, True)
    by_name = Revocation("jobs.add", "task", 99.0, False)
    index = RevocationIndex([by_id, by_name])
    assert index.of("0190ab", "jobs.add") is by_id
    assert index.of("other", "jobs.add") is by_name
    assert index.of("other", "jobs.sub") is None
    assert call_keys("0190ab", "jobs.add") == ("id:0190ab", "task:jobs.add")


def test_listings_mark_revoked_rows_by_the_same_rule() -> None:
    huey = MemoryHuey("one-home")

    @huey.task(name="jobs.add")
    def add(a: int) -> int:
        return a

    @huey.task(name="jobs.sub")
    def sub(a: int) -> int:
        return a

    one, two, three = add(1), add(2), sub(3)
    huey.revoke_by_id(one.id)
    insp = Inspector(huey)
    assert {i.id: i.revoked for i in insp.pending()} == {
        one.id: True,
        two.id: False,
        three.id: False,
    }
    huey.revoke_all("jobs.add")
    assert {i.id: i.revoked for i in insp.pending()} == {
        one.id: True,
        two.id: True,
        three.id: False,
    }
    assert huey.is_revoked(huey.pending()[1]) and not huey.is_revoked(huey.pending()[2])


# --- the --task rule ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "task_", "expected"),
    [
        ("jobs.add", None, True),
        ("jobs.add", "jobs.add", True),
        ("jobs.add", "add", True),
        ("app.jobs.add", "jobs.add", True),
        ("jobs.add", "dd", False),
        ("jobs.adder", "add", False),
    ],
)
def test_name_matches(name: str, task_: str | None, expected: bool) -> None:
    assert name_matches(name, task_) is expected


# --- task ids ---------------------------------------------------------------------------------
def test_id_length_is_what_new_task_id_makes() -> None:
    assert len(new_task_id()) == ID_LENGTH


# --- a URL's secrets -------------------------------------------------------------------------
def test_url_secrets_names_what_mask_url_hides() -> None:
    url = "redis://user:pw1@host:6379/0?password=pw2&token=tk&db=3"
    assert url_secrets(url) == ["pw1", "pw2", "tk"]
    masked = mask_url(url)
    assert not any(secret in masked for secret in url_secrets(url))
    assert url_secrets("redis://host:6379/0") == []
    assert url_secrets("not a url") == []
    assert url_secrets("redis://[bad") == []


# --- --app must name a queue ---------------------------------------------------------------------
def test_load_queue_refuses_what_is_not_a_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("one_home_app")
    module.huey = MemoryHuey("one-home")  # type: ignore[attr-defined]
    module.other = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "one_home_app", module)
    assert load_queue("one_home_app.huey") is module.huey  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="'one_home_app.other' is a int, not a Huey"):
        load_queue("one_home_app.other")


# --- a listing's name, its state, its count and its page ----------------------------------------
def test_listing_words_map_to_states_counts_and_pages() -> None:
    from hueyctl import present, render

    huey = MemoryHuey("one-home")

    @huey.task(name="jobs.add")
    def add(a: int) -> int:
        return a

    add(1)
    add.schedule((2,), delay=3600)
    insp = Inspector(huey)
    overview = insp.overview(1)
    for listing in render.TASK_LISTINGS:
        state = present.label_state(listing)
        assert present.state_label(state) == listing
        rows = insp.tasks(state, 0, 10)
        assert len(rows) == overview.in_state(state)
        assert all(r.state == state for r in rows)
    assert [i.id for i in insp.tasks("ready")] == [i.id for i in insp.pending()]
    with pytest.raises(ValueError, match="unknown state"):
        insp.tasks("pending")
