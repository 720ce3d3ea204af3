"""Queue order after an upgrade (issue 10, item 12): a queue written before the enqueue
sequence existed keeps working. Its waiting tasks are still claimed, by priority, ahead
of the tasks enqueued after the upgrade at their priority; nothing is lost.

SQLite: the old file has no ``ord`` column; opening it adds the column and the index.
(Redis: a queue of an earlier layout is moved by ``hueyctl migrate``, tested there.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support.contract import LEASE, NOW, new_ids

from engine.storage.base import Message


def test_sqlite_file_without_the_order_column_is_upgraded(tmp_path: Path) -> None:
    from engine.storage.sqlite import SqliteStorage

    path = tmp_path / "old.db"
    old_low, old_high, old_low2 = new_ids(3)
    with sqlite3.connect(path) as db:  # the previous release's task table and index
        db.executescript(
            "CREATE TABLE task (queue TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,"
            " priority INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, eta REAL,"
            " consumer TEXT, claimed_at REAL, deliveries INTEGER NOT NULL DEFAULT 0,"
            " reason TEXT, error TEXT, failed_at REAL, PRIMARY KEY (queue, id));"
            "CREATE INDEX task_ready ON task (queue, state, priority DESC, id);"
        )
        db.executemany(
            "INSERT INTO task (queue, id, data, priority, state) VALUES ('q', ?, ?, ?, 'ready')",
            [(old_low2, b"o2", 0), (old_high, b"oh", 3), (old_low, b"o1", 0)],
        )
    store = SqliteStorage(name="q", filename=str(path))
    try:
        new_low, new_high = new_ids(2)
        store.enqueue([Message(new_low, b"n1"), Message(new_high, b"nh", 3)])
        claimed = [c.id for c in store.claim("c1", NOW, 10, LEASE)]
        assert claimed == [old_high, new_high, old_low, old_low2, new_low]
        indexes = {row[1] for row in sqlite3.connect(path).execute("PRAGMA index_list(task)")}
        assert "task_order" in indexes and "task_ready" not in indexes
    finally:
        store.close()
