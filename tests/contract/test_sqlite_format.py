"""The SQLite file's format (issue 16): format 2 is compact, carries its version in
``PRAGMA user_version``, refuses a newer one in one line, and upgrades a format 1 file
(every release before it) in place on first open without losing a task.

FORMAT1 below is the previous release's schema, copied verbatim, and the rows are
written as that release wrote them (states as text, ``eta``, ``claimed_at`` and
``failed_at`` in their own columns, ``ord`` the place within a priority).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support.contract import LEASE, NOW, new_ids

from engine.exceptions import ConfigurationError
from engine.storage.base import Message, Outcome
from engine.storage.sqlite import FORMAT, SqliteStorage, id_key, id_text

FORMAT1 = """
CREATE TABLE IF NOT EXISTS task (
    queue TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, eta REAL,
    consumer TEXT, claimed_at REAL, deliveries INTEGER NOT NULL DEFAULT 0,
    reason TEXT, error TEXT, failed_at REAL, ord INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, id));
CREATE INDEX IF NOT EXISTS task_eta ON task (queue, state, eta, id);
CREATE INDEX IF NOT EXISTS task_dead ON task (queue, state, failed_at, id);
CREATE TABLE IF NOT EXISTS kv (queue TEXT NOT NULL, key TEXT NOT NULL,
    value BLOB NOT NULL, expires REAL, PRIMARY KEY (queue, key));
CREATE INDEX IF NOT EXISTS kv_expires ON kv (queue, expires);
CREATE TABLE IF NOT EXISTS lease (queue TEXT NOT NULL, consumer TEXT NOT NULL,
    until REAL NOT NULL, PRIMARY KEY (queue, consumer));
CREATE TABLE IF NOT EXISTS map (queue TEXT NOT NULL, name TEXT NOT NULL,
    field TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (queue, name, field));
CREATE TABLE IF NOT EXISTS event (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS event_queue ON event (queue, seq);
CREATE TABLE IF NOT EXISTS finished (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS finished_id ON finished (queue, id);
CREATE TABLE IF NOT EXISTS stat (queue TEXT NOT NULL, minute INTEGER NOT NULL,
    task TEXT NOT NULL, count INTEGER NOT NULL, failures INTEGER NOT NULL,
    total REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (queue, minute, task));
CREATE INDEX IF NOT EXISTS task_order ON task (queue, state, priority DESC, ord, id);
"""

COLUMNS = (
    "queue, id, data, priority, state, eta, consumer, claimed_at, deliveries, reason,"
    " error, failed_at, ord"
)


def _format1_file(path: Path, rows: list[tuple[object, ...]]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(FORMAT1)
        db.executemany(f"INSERT INTO task ({COLUMNS}) VALUES ({','.join('?' * 13)})", rows)
        db.execute("INSERT INTO kv VALUES ('q', 'result:x', x'01', NULL)")
        db.execute("INSERT INTO lease VALUES ('q', 'w1', ?)", (NOW + LEASE,))
        db.execute("INSERT INTO map VALUES ('q', 'pauses', 'slow', x'7b7d')")
        db.execute("INSERT INTO finished (queue, id, data) VALUES ('q', 'done-1', x'02')")
    db.close()


def test_a_format1_file_keeps_every_task_through_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "format1.db"
    r_low, r_high, r_low2, r_new, sch, run, dead, parked, other = new_ids(9)
    _format1_file(
        path,
        [  # queue, id, data, priority, state, eta, consumer, claimed_at, deliv, reason,
            # error, failed_at, ord
            ("q", r_low2, b"r2", 0, "ready", None, None, None, 0, None, None, None, 2),
            ("q", r_low, b"r1", 0, "ready", None, None, None, 1, None, None, None, -1),
            ("q", r_high, b"rh", 5, "ready", None, None, None, 0, None, None, None, 1),
            ("q", sch, b"s", 2, "scheduled", NOW + 60, None, None, 0, None, None, None, 0),
            ("q", run, b"run", 0, "running", None, "w1", NOW - 1, 2, None, None, None, 3),
            ("q", dead, b"d", 0, "dead", None, None, NOW - 9, 3, "error", "boom", NOW - 5, 0),
            ("q", parked, b"p", 0, "parked", None, None, None, 0, "slow", None, None, 7),
            ("other", other, b"o", 0, "ready", None, None, None, 0, None, None, None, 1),
            ("q", "made-up id", b"m", 0, "ready", None, None, None, 0, None, None, None, 3),
        ],
    )
    store = SqliteStorage(name="q", filename=str(path))
    try:
        c = store.counts()
        assert (c.ready, c.scheduled, c.running, c.dead) == (4, 1, 1, 1)
        assert [m.id for m in store.ready_items()] == [r_high, r_low, r_low2, "made-up id"]
        assert store.ready_items()[0] == Message(r_high, b"rh", 5)
        assert store.scheduled_items() == [(Message(sch, b"s", 2), NOW + 60)]
        (running,) = store.running_items()
        assert (running.id, running.consumer, running.claimed_at, running.deliveries) == (
            run,
            "w1",
            NOW - 1,
            2,
        )
        (letter,) = store.dead_items()
        assert (letter.id, letter.reason, letter.error, letter.failed_at) == (
            dead,
            "error",
            "boom",
            NOW - 5,
        )
        assert store.locate(dead).deliveries == 3  # type: ignore[union-attr]
        assert store.locate(r_low).deliveries == 1  # type: ignore[union-attr]
        assert store.parked("slow") == 1
        assert store.peek("result:x") == b"\x01"
        assert store.finished("done-1") == b"\x02"
        assert store.map_items("pauses") == {"slow": b"{}"}
        assert store.consumers(NOW) == {"w1": NOW + LEASE}
        # The running task is still its worker's to finish.
        assert store.finish("w1", run, NOW, Outcome()) is None
        # New work goes behind the old at its priority.
        store.enqueue([Message(r_new, b"n", 5)])
        claimed = [t.id for t in store.claim("w2", NOW, 10, LEASE)]
        assert claimed == [r_high, r_new]  # r_low was delivered before: it goes alone
        assert [t.id for t in store.claim("w2", NOW, 10, LEASE)] == [r_low]
        assert store.unpark("slow", "pauses") == 1
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == FORMAT
    finally:
        store.close()
    other_store = SqliteStorage(name="other", filename=str(path))
    try:
        assert [m.id for m in other_store.ready_items()] == [other]
        assert other_store.queue_names() == (["other", "q"], True)
    finally:
        other_store.close()


def test_a_newer_format_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    SqliteStorage(name="q", filename=str(path)).counts()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {FORMAT + 1}")
    db.close()
    store = SqliteStorage(name="q", filename=str(path))
    with pytest.raises(ConfigurationError) as info:
        store.counts()
    message = str(info.value)
    assert "\n" not in message
    assert f"format {FORMAT + 1}" in message and f"knows up to {FORMAT}: upgrade hueyctl" in message


def test_a_task_table_of_another_shape_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huey.db"
    with sqlite3.connect(path) as db:  # huey's SqliteHuey table
        db.execute(
            "create table task (id integer not null primary key, queue text not null,"
            " data blob not null, priority real not null default 0.0)"
        )
    db.close()
    with pytest.raises(ConfigurationError) as info:
        SqliteStorage(name="q", filename=str(path)).counts()
    assert "\n" not in str(info.value) and "did not make" in str(info.value)


def test_a_new_file_is_marked_with_the_format(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteStorage(name="q", filename=str(path)).counts()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == FORMAT


@pytest.mark.parametrize(
    "task_id",
    [
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",  # stored as 16 bytes
        "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",  # upper case: kept as text
        "0193a1b2c3d47e5f8a9b0c1d2e3f4a5b",
        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5 ",
        "t1",
        "",
        "caf\u00e9",
    ],
)
def test_ids_round_trip_exactly(task_id: str, tmp_path: Path) -> None:
    assert id_text(id_key(task_id)) == task_id
    store = SqliteStorage(name="q", filename=str(tmp_path / "ids.db"))
    try:
        store.enqueue([Message(task_id, b"x")])
        assert store.locate(task_id) is not None
        assert store.ready_items()[0].id == task_id
        (claimed,) = store.claim("c1", NOW, 1, LEASE)
        assert claimed.id == task_id
        assert store.finish("c1", task_id, NOW, Outcome()) is None
        assert store.counts().running == 0
    finally:
        store.close()


def test_short_ids_find_stored_uuids_and_made_up_ids(tmp_path: Path) -> None:
    store = SqliteStorage(name="q", filename=str(tmp_path / "short.db"))
    try:
        (generated,) = new_ids(1)
        store.enqueue([Message(generated, b"x"), Message("job-abc123", b"y")])
        assert store.ids_ending(generated[-8:]) == [generated]
        assert store.ids_ending(generated[-14:]) == [generated]  # across a dash
        assert store.ids_ending("abc123") == ["job-abc123"]
    finally:
        store.close()


def test_a_pending_task_costs_little_more_than_its_body(tmp_path: Path) -> None:
    """W6 on SQLite in small: the id once as 16 bytes plus a short index entry."""
    path = tmp_path / "size.db"
    store = SqliteStorage(name="bench", filename=str(path))
    body = b"b" * 124
    n = 2000

    def used() -> int:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages, free = (
                db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count")
            )
            size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        return int((pages - free) * size)

    try:
        store.counts()
        empty = used()
        store.enqueue([Message(i, body) for i in new_ids(n)])
        per_task = (used() - empty) / n
    finally:
        store.close()
    assert per_task <= len(body) + 80, per_task


def test_a_batch_of_finishes_commits_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finish_many is one transaction: a failure half-way commits none of the batch, so
    the worker may send it again as it is (each task is still running, still its own)."""
    from engine.exceptions import StoreUnavailable

    store = SqliteStorage(name="q", filename=str(tmp_path / "batch.db"))
    try:
        first, second = new_ids(2)
        store.enqueue([Message(first, b"1"), Message(second, b"2")])
        assert len(store.claim("c1", NOW, 2, LEASE)) == 2
        real = store._keep_finished
        calls = []

        def failing(conn: sqlite3.Connection, task_id: str, record: bytes) -> None:
            calls.append(task_id)
            if len(calls) == 2:
                raise sqlite3.OperationalError("disk I/O error")
            real(conn, task_id, record)

        monkeypatch.setattr(store, "_keep_finished", failing)
        batch = [
            (i, NOW, Outcome([(f"result:{i}", b"ok")], finished=b"{}\n")) for i in (first, second)
        ]
        with pytest.raises(StoreUnavailable):
            store.finish_many("c1", batch)
        assert store.counts().running == 2 and store.peek(f"result:{first}") is None
        monkeypatch.setattr(store, "_keep_finished", real)
        assert store.finish_many("c1", batch) == [None, None]
        assert store.counts().running == 0 and store.peek(f"result:{first}") == b"ok"
    finally:
        store.close()


def test_a_round_promotes_claims_and_reports_in_one_step(tmp_path: Path) -> None:
    store = SqliteStorage(name="q", filename=str(tmp_path / "round.db"))
    try:
        due, later, ready = new_ids(3)
        store.schedule([(Message(due, b"d"), NOW - 1), (Message(later, b"l"), NOW + 60)])
        store.enqueue([Message(ready, b"r")])
        store.put("revoke:version", b"7")
        rnd = store.claim_round("c1", NOW, 1, LEASE, "revoke:version")
        assert [c.id for c in rnd.claimed] == [ready]  # promoted behind the waiting one
        assert (rnd.watched, rnd.next_eta, rnd.more) == (b"7", NOW + 60, True)
        rnd = store.claim_round("c1", NOW, 5, LEASE, "revoke:version")
        assert [c.id for c in rnd.claimed] == [due] and rnd.more is False
    finally:
        store.close()
