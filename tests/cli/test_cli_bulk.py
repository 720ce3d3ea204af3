"""Bulk actions over a filter, the audit trail and dead-letter replay (issue 14).

``retry``/``delete``/``revoke``/``cancel`` with ``--task``, ``--error``,
``--older-than``, ``--state``; ``purge pending --task``; ``failed --export`` and
``enqueue --from``; every admin action an ``admin.<action>`` event. Real Redis and
SQLite (the ``q`` fixture); the 10,000-letter run is Redis only and slow.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.cli import CLEAN_ENV, Queue, one_line_error, register

from engine import RedisHuey
from engine.api import Huey
from engine.inspect import Inspector
from engine.storage.base import Outcome
from hueyctl import bulk, render

LEASE = 60.0


def bury(
    huey: Huey,
    name: str,
    n: int,
    error: str = "ValueError: boom",
    at: float | None = None,
    **options: Any,
) -> list[str]:
    """``n`` dead letters of task ``name`` failed at ``at``, made straight through the
    store: enqueued in one call, claimed and finished as dead a thousand at a time."""
    now = time.time() if at is None else at
    spec = huey.registered(name)
    assert spec is not None
    messages = []
    for i in range(n):
        task = huey.new_call(spec.spec, (i,), {"i": i}, **options)
        messages.append(huey.prepare(task, now))
    ids: list[str] = []
    for start in range(0, n, 1000):
        huey.storage.enqueue(messages[start : start + 1000])
        claimed = huey.storage.claim("filler", time.time(), 1000, LEASE)
        items = [(c.id, now, Outcome(dead=("error", error))) for c in claimed]
        assert huey.storage.finish_many("filler", items) == [None] * len(items)
        ids += [c.id for c in claimed]
    return ids


def admin_events(q: Queue) -> list[dict[str, Any]]:
    return list(q.json("events", "--kind", "admin", "-n", "1000"))


# --- filters ---------------------------------------------------------------------------
def test_retry_filters_by_task_error_and_age(q: Queue) -> None:
    old = time.time() - 7200
    timeouts = bury(q.huey, "tasks.boom", 3, "TimeoutError: read", at=old)
    recent = bury(q.huey, "tasks.boom", 2, "TimeoutError: read")
    others = bury(q.huey, "tasks.boom", 2, "KeyError: x", at=old)
    bad = bury(q.huey, "tasks.bad", 2, "TimeoutError: read", at=old)
    r = q.ok("retry", "--task", "boom", "--error", "timeout", "--older-than", "1h", "--yes")
    assert "retried 3 of 3 matching; 0 skipped (already gone)" in r.stderr
    pending = {p["id"] for p in q.json("pending")}
    assert pending == set(timeouts)
    left = {f["id"] for f in q.json("failed")}
    assert left == set(recent + others + bad)
    r = q.ok("retry", "--task", "boom", "--error", "timeout", "--older-than", "1h", "--yes")
    assert "retried 0 of 0 matching" in r.stderr  # a second run finds nothing
    (event,) = [e for e in admin_events(q) if e["event"] == "admin.retry"]
    assert event["count"] == 3 and event["task"] == "boom"
    assert event["target"] == "state=dead task=boom error~'timeout' older-than=1h"
    assert event["detail"] == "retried 3 of 3 matching; 0 skipped (already gone)"


def test_bulk_pages_through_a_mixed_listing_exactly(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "PAGE", 3)  # many pages, matches spread over them
    ids = []
    for i in range(11):
        ids += bury(q.huey, "tasks.boom" if i % 3 else "tasks.bad", 1)
    booms = [i for n, i in enumerate(ids) if n % 3]
    r = q.ok("delete", "--state", "failed", "--task", "boom", "--yes")
    assert f"deleted {len(booms)} of {len(booms)} matching; 0 skipped" in r.stderr
    assert {f["name"] for f in q.json("failed")} == {"tasks.bad"}
    assert len(q.json("failed")) == 11 - len(booms)


def test_delete_revoke_cancel_and_purge_by_task(q: Queue) -> None:
    adds = q.add(6)
    booms = [q.huey.enqueue_by_name("tasks.boom").id for _ in range(3)]
    r = q.ok("revoke", "--state", "pending", "--task", "add", "--yes")
    assert "revoked 6 of 6 matching" in r.stderr
    assert {x["target"] for x in q.json("revocations")} == set(adds)
    r = q.ok("revoke", "--state", "pending", "--task", "add", "--yes")
    assert "revoked 0 of 0 matching; 6 left as they are (revoked already)" in r.stderr
    r = q.ok("cancel", "--task", "boom", "--yes")
    assert "cancelled 3 of 3 matching" in r.stderr
    assert {p["id"] for p in q.json("pending")} == set(adds)
    r = q.ok("purge", "pending", "--task", "add", "--yes")
    assert "deleted 6 of 6 matching" in r.stderr and q.json("pending") == []
    kinds = [e["event"] for e in admin_events(q)]
    assert kinds == ["admin.revoke", "admin.cancel", "admin.delete"]  # 0-match runs: no event
    assert booms


def test_cancel_one_queued_task_and_say_a_dead_letter_has_ended(q: Queue) -> None:
    (task_id,) = q.add(1)
    r = q.ok("cancel", task_id, "--yes")  # --yes is accepted (one ID is not asked about)
    assert f"cancelled task {task_id}" in r.stderr and q.json("pending") == []
    dead = q.dead()
    assert "already ended (a dead letter)" in q.ok("cancel", dead).stderr
    one_line_error(q.cli("cancel", task_id, "--task", "add"), 2, "an ID or filters")
    one_line_error(q.cli("cancel", "--task", "add", "--wait", "--yes"), 2, "--wait")


def test_bulk_refusals_are_one_line(q: Queue) -> None:
    bury(q.huey, "tasks.boom", 2)
    one_line_error(q.cli("delete", "--task", "boom"), 2, "--state")
    one_line_error(q.cli("retry", "--state", "pending"), 2, "retry works on dead")
    one_line_error(q.cli("delete", "--state", "pending", "--error", "x"), 2, "--error")
    one_line_error(q.cli("retry", "--all", "--older-than", "soon"), 2, "--older-than")
    one_line_error(q.cli("revoke", "add", "--state", "pending"), 2, "no TARGET")
    one_line_error(q.cli("purge", "results", "--task", "add"), 2, "results")
    # without a terminal and without --yes: refused, nothing changed
    one_line_error(q.cli("retry", "--task", "boom"), 1, "Retry 2 dead letter(s)", "--yes")
    assert len(q.json("failed")) == 2 and admin_events(q) == []


def test_bulk_asks_on_a_terminal(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "stdin_is_tty", lambda: True)
    bury(q.huey, "tasks.boom", 2)
    r = q.cli("delete", "--state", "failed", input="n\n")
    assert r.exit_code == 1 and "Delete 2 dead letter(s) matching state=dead" in r.stderr
    assert len(q.json("failed")) == 2
    r = q.ok("delete", "--state", "failed", input="y\n")
    assert "deleted 2 of 2 matching" in r.stderr and q.json("failed") == []


def test_an_interrupted_bulk_action_says_and_records_what_it_did(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "PAGE", 2)
    bury(q.huey, "tasks.boom", 5)
    calls = []
    real = Huey.retry_failed_many

    def stop_at_the_second_page(self: Huey, ids: Sequence[str]) -> int:
        calls.append(ids)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, ids)

    monkeypatch.setattr(Huey, "retry_failed_many", stop_at_the_second_page)
    line = one_line_error(q.cli("retry", "--all", "--yes"), 1, "interrupted")
    assert "retried 2 of 5 matching; 3 left (interrupted)" in line
    (event,) = admin_events(q)
    assert event["count"] == 2 and event["detail"].startswith("interrupted: retried 2 of 5")
    assert len(q.json("failed")) == 3


# --- the audit trail -------------------------------------------------------------------
def test_every_admin_action_is_an_event_with_who(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUEYCTL_ACTOR", "deploy-bot@ci")
    signal = {"ts": time.time(), "event": "error", "id": "x", "task": "tasks.add", "worker": "w"}
    q.huey.storage.record([json.dumps(signal).encode()], [])  # a worker's event
    (task_id,) = q.add(1)
    dead = q.dead()
    q.ok("revoke", task_id)
    q.ok("restore", task_id)
    q.ok("revoke", "tasks.add", "--until", "1h")
    q.ok("restore", "add")
    q.ok("retry", dead)
    q.ok("delete", task_id, "--yes")
    q.ok("purge", "pending", "--yes")
    q.ok("flush-locks", "--yes")
    events = admin_events(q)
    assert [e["event"] for e in events] == [
        "admin.revoke",
        "admin.restore",
        "admin.revoke",
        "admin.restore",
        "admin.retry",
        "admin.delete",
        "admin.purge",
        "admin.flush-locks",
    ]
    assert {e["actor"] for e in events} == {"deploy-bot@ci"}
    assert {e["worker"] for e in events} == {"deploy-bot@ci"}
    assert events[0]["task_id"] == task_id and events[0]["target"] == task_id
    assert events[2]["task"] == "tasks.add" and "every call until" in events[2]["detail"]
    assert events[4]["task"] == "tasks.boom" and events[4]["count"] == 1
    assert events[6]["count"] == 1 and events[6]["target"] == "pending"
    # the filters: --kind admin keeps only them, another kind drops them, --task narrows
    others = [
        e["event"] for e in q.json("events", "-n", "1000") if not e["event"].startswith("admin.")
    ]
    assert sorted(others) == ["error", "retried"]  # the task's own life, beside the audit
    assert [e["event"] for e in q.json("events", "--kind", "error")] == ["error"]
    by_task = q.json("events", "--kind", "admin", "--task", "tasks.add")
    assert [e["event"] for e in by_task] == ["admin.revoke", "admin.restore", "admin.delete"]
    text = q.ok("events", "--kind", "admin").stdout
    assert "admin.purge" in text and "deploy-bot@ci" in text and "purged 1" in text


def test_actor_defaults_to_user_at_host(q: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import socket

    monkeypatch.delenv("HUEYCTL_ACTOR", raising=False)
    q.ok("purge", "pending", "--yes") if q.add(1) else None
    (event,) = admin_events(q)
    assert event["actor"] == f"{getpass.getuser()}@{socket.gethostname()}"


def test_record_admin_action_is_one_call(q: Queue) -> None:
    """What the pause/resume/cancel commands call (engine API, documented)."""
    q.huey.record_admin_action(
        "pause", "tasks.add", task="tasks.add", detail="for 30m", actor="ann@box"
    )
    (e,) = Inspector(q.huey).events(None, 10)
    assert (e.event, e.actor, e.worker, e.target, e.task, e.detail, e.count) == (
        "admin.pause",
        "ann@box",
        "ann@box",
        "tasks.add",
        "tasks.add",
        "for 30m",
        None,
    )
    assert e.admin and e.of_kind("admin") and not e.of_kind("complete")


# --- export and replay ---------------------------------------------------------------
OPTIONS: list[dict[str, Any]] = [
    {"retries": 3, "retry_delay": 2.5, "priority": 7},
    {"retries": 0, "priority": -2, "expires": dt.timedelta(hours=5), "timeout": 30.0},
    {"retry_backoff": 1.5, "retry_delay": 1, "retries": 1},
]
ARGS: list[Any] = [
    (1, "two", [3.25, None], {"k": (4, 5)}),
    (dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC), Decimal("1.10"), b"\x00\xff"),
    ((), {"nested": {"set": {1, 2}}}, "caf\u00e9 \u2603", 2**70),
]


def test_export_purge_import_round_trips_args_and_options(q: Queue, tmp_path: Path) -> None:
    huey = q.huey
    spec = huey.registered("tasks.boom")
    assert spec is not None
    made = []
    for args, options in zip(ARGS, OPTIONS, strict=True):
        task = huey.new_call(spec.spec, args, {"kw": args[-1]}, **options)
        huey.storage.enqueue([huey.prepare(task, time.time())])
        made.append(task)
    claimed = huey.storage.claim("c1", time.time(), 10, LEASE)
    for c in claimed:
        huey.storage.finish("c1", c.id, time.time(), Outcome(dead=("error", "E: x")))
    before = {t.id: Inspector(huey).task(t.id) for t in made}
    out = tmp_path / "dead.jsonl"
    r = q.ok("failed", "--export", str(out))
    assert "exported 3 dead letter(s)" in r.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {x["id"] for x in lines} == {t.id for t in made}
    one_line_error(q.cli("failed", "--export", str(out)), 2, "exists")
    q.ok("purge", "failed", "--yes")
    assert q.json("failed") == []
    r = q.ok("enqueue", "--from", str(out))
    assert "enqueued 3 task(s)" in r.stderr
    insp = Inspector(huey)
    for task in made:
        info = insp.task(task.id)
        assert info is not None and info.state == "ready"
        old = before[task.id]
        assert old is not None
        # the stored record is the dead letter's, field for field
        assert info.envelope == old.envelope
        back = huey.envelope.decode(huey.storage.locate(task.id).data, task.id)  # type: ignore[union-attr]
        assert back.args == task.args and back.kwargs == task.kwargs
        for name in ("retries", "retry_delay", "retry_backoff", "priority", "timeout"):
            assert getattr(back, name) == getattr(task, name), name
        assert back.expires == task.expires and back.enqueued_at == task.enqueued_at
    (event,) = [e for e in admin_events(q) if e["event"] == "admin.replay"]
    assert event["count"] == 3 and event["target"] == str(out)


def test_import_checks_every_line_first(q: Queue, tmp_path: Path) -> None:
    q.dead()  # the store has seen the queue
    good = {"id": "0190ab12-0000-7000-8000-000000000001", "task": "tasks.add", "args": [1, 2]}
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(good) + "\n\n" + json.dumps({"task": "tasks.add", "id": "x2",
                 "retries": "3"}) + "\n")  # fmt: skip
    one_line_error(q.cli("enqueue", "--from", str(f)), 2, "line 3", "retries")
    f.write_text(json.dumps(good) + "\n{not json\n")
    one_line_error(q.cli("enqueue", "--from", str(f)), 2, "line 2", "not JSON")
    assert q.json("pending") == []  # nothing enqueued from a file with a bad line
    one_line_error(q.cli("enqueue", "--from", str(f), "tasks.add"), 2, "--from")
    one_line_error(q.cli("enqueue", "--from", str(tmp_path / "nope")), 2, "cannot read")


# A line of `failed --export` as the release before packed bodies wrote it.
PREVIOUS_EXPORT = (
    '{"id":"0190ab12-0000-7000-8000-0000000000cc","task":"tasks.add","reason":"error",'
    '"error":"E: x","failed_at":1764633600.0,"envelope":{"args":[{"$tuple":[1,2]},'
    '{"$decimal":"1.10"}],"attempt":2,"enqueued_at":1764633500.25,'
    '"id":"0190ab12-0000-7000-8000-0000000000cc","kwargs":{"when":{"$date":"2026-01-02"}},'
    '"priority":3,"retries":2,"task":"tasks.add"}}'
)


def test_import_of_a_previous_releases_export(q: Queue, tmp_path: Path) -> None:
    q.dead()  # the store has seen the queue
    f = tmp_path / "old.jsonl"
    f.write_text(PREVIOUS_EXPORT + "\n")
    q.ok("enqueue", "--from", str(f))
    line = json.loads(PREVIOUS_EXPORT)
    shown = q.json("show", line["id"])
    assert shown["envelope"] == {**line["envelope"], "v": 1}  # shown as it was exported
    loc = q.huey.storage.locate(line["id"])
    assert loc is not None and loc.data.startswith(b'["tasks.add",')  # stored packed
    assert len(loc.data) < len(json.dumps(shown["envelope"]))


@pytest.fixture
def signed(redis_url: str) -> Iterator[tuple[Huey, str]]:
    name = f"cli-signed-{uuid.uuid4().hex[:8]}"
    huey = RedisHuey(name, url=redis_url, signing_key=b"k" * 32)
    register(huey)
    yield huey, name
    huey.flush()
    huey.storage.close()


def test_import_onto_a_signed_queue_is_resigned_or_refused(
    signed: tuple[Huey, str], redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huey, name = signed
    huey.enqueue_by_name("tasks.add", (0, 0))  # a signed message: the queue reads as signed
    rec = {"id": "0190ab12-0000-7000-8000-0000000000aa", "task": "tasks.add", "args": [1, 2]}
    forged = dict(rec, id="0190ab12-0000-7000-8000-0000000000bb", sig="00" * 32)
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps({"envelope": forged}) + "\n")
    q = Queue(huey, redis_url, "redis")
    one_line_error(q.cli("enqueue", "--from", str(f)), 2, "is signed", "HUEYCTL_SIGNING_KEY")
    assert huey.pending_count() == 1
    monkeypatch.setitem(CLEAN_ENV, "HUEYCTL_SIGNING_KEY", "k" * 32)
    q = Queue(huey, redis_url, "redis")
    q.ok("enqueue", "--from", str(f))
    for task_id in (rec["id"], forged["id"]):
        loc = huey.storage.locate(task_id)
        assert loc is not None
        task = huey.envelope.decode(loc.data, task_id)  # verifies: signed with the queue's key
        assert task.args == (1, 2)
        assert b"00" * 32 not in loc.data  # the forged signature was not kept


# --- 10,000 dead letters -------------------------------------------------------------------
@pytest.mark.slow
def test_retry_of_ten_thousand_dead_letters_reports_exact_counts(redis_url: str) -> None:
    name = f"cli-bulk-{uuid.uuid4().hex[:8]}"
    huey = RedisHuey(name, url=redis_url, dead_cap=20_000)
    register(huey)
    try:
        bury(huey, "tasks.boom", 10_000)
        bury(huey, "tasks.bad", 300)
        assert huey.storage.counts().dead == 10_300
        q = Queue(huey, redis_url, "redis")
        start = time.perf_counter()
        r = q.ok("retry", "--task", "tasks.boom", "--yes")
        took = time.perf_counter() - start
        assert "retried 10000 of 10000 matching; 0 skipped (already gone)" in r.stderr, r.stderr
        counts = huey.storage.counts()
        assert (counts.ready, counts.dead) == (10_000, 300)
        r = q.ok("retry", "--task", "tasks.boom", "--yes")
        assert "retried 0 of 0 matching" in r.stderr
        print(f"10k bulk retry on Redis: {took:.2f}s")
    finally:
        huey.flush()
        huey.storage.close()


def _ids(items: Sequence[Any]) -> list[str]:
    return [i["id"] for i in items]
