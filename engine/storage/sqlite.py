"""SQLite storage: one file, shared by many queues and many processes.

Schema (every table is keyed by ``queue``, so one file holds several queues; it
is created with ``CREATE TABLE IF NOT EXISTS`` on first use)::

    task(queue, id, data BLOB, priority, state, eta, consumer, claimed_at,
         deliveries, reason, error, failed_at, ord)   PRIMARY KEY (queue, id)
    kv(queue, key, value BLOB, expires)          PRIMARY KEY (queue, key)
    lease(queue, consumer, until)                PRIMARY KEY (queue, consumer)
    event(seq, queue, data BLOB)                 capped per queue by ``record``
    stat(queue, minute, task, count, failures, total, max)

A task is one row wherever it is (``state`` ready, scheduled, running, dead, or
parked: a call of a paused task name, ``reason`` holding the name);
every move is an UPDATE of that row. Indexes on ``(queue, state, priority DESC,
ord, id)`` (claim order), ``(..., eta, id)`` and ``(..., failed_at, id)`` serve the
hot queries. ``ord`` is a task's place within its priority (the ``ORDER`` rule of
``storage/base.py``): one more than the last ready task of that priority when it
goes to the back, one less than the first when it is handed back to the front;
each costs one index seek inside the statement that moves the task.

Upgrade: a file written before ``ord`` existed gets the column on first open
(``ALTER TABLE``, default 0) and the new index in place of ``task_ready``. Its
waiting tasks then have ``ord`` 0: they keep their id order and are claimed ahead
of the tasks enqueued after the upgrade at their priority. Nothing is lost. ``kv.expires`` is
``time.time()`` based or NULL; expired rows count as absent and are deleted
lazily (and swept by ``recover``).

Why ``BEGIN IMMEDIATE``: a producer and several worker processes use the file
at once. A deferred transaction reads first and asks for the write lock only at
its first write, so two processes could read the same ready row, and in WAL mode
the loser's upgrade fails with ``SQLITE_BUSY_SNAPSHOT`` without the busy handler
ever waiting. ``BEGIN IMMEDIATE`` takes the write lock before the first read
(waiting up to ``timeout`` seconds), so every read-modify-write step is
serialised across processes and no task is claimed twice. Plain reads run in
autocommit and, with WAL, never block the writer. In one process, all threads
share one connection behind a lock (reopened after a fork).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..exceptions import ConfigurationError, StoreUnavailable
from .base import (
    DEAD_CAP,
    DEAD_CAP_BYTES,
    EVENT_CAP,
    LEASE_LOST,
    NOT_OWNER,
    NOT_RUNNING,
    PROMOTE_BATCH,
    SCAN_BUDGET,
    STATS_TTL,
    Claimed,
    Counts,
    DeadLetter,
    Located,
    Message,
    Outcome,
    Recovered,
    Running,
    StatRow,
    Storage,
    refusal_running,
)

Conn = sqlite3.Connection

_SCHEMA = """
BEGIN IMMEDIATE;
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
COMMIT;
"""

# A file made before the ``ord`` column: add it, and the claim-order index that uses it.
_UPGRADE = "ALTER TABLE task ADD COLUMN ord INTEGER NOT NULL DEFAULT 0"
_ORDER_INDEX = """
BEGIN IMMEDIATE;
DROP INDEX IF EXISTS task_ready;
CREATE INDEX IF NOT EXISTS task_order ON task (queue, state, priority DESC, ord, id);
COMMIT;
"""
# announce(): a row in ``map`` under this name says the queue exists (nothing in it yet).
_ANNOUNCED = "_queue"
_QUEUES = " UNION ".join(
    f"SELECT DISTINCT queue FROM {table}" for table in ("task", "kv", "lease", "map", "stat")
)
_JOURNAL_MODES = frozenset({"delete", "truncate", "persist", "memory", "wal", "off"})
_FLUSHABLE = ("ready", "scheduled", "dead")
# The place at the back (after the last ready task of the priority) or at the front.
_BACK = (
    "(SELECT coalesce(max(o.ord), 0) + 1 FROM task o"
    " WHERE o.queue = ?1 AND o.state = 'ready' AND o.priority = ?4)"
)
_FRONT = (
    "(SELECT coalesce(min(o.ord), 0) - 1 FROM task o"
    " WHERE o.queue = task.queue AND o.state = 'ready' AND o.priority = task.priority)"
)
_INSERT = (
    "INSERT OR REPLACE INTO task (queue, id, data, priority, state, eta, deliveries, ord)"
    f" VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, CASE ?5 WHEN 'ready' THEN {_BACK} ELSE 0 END)"
)
# {} are SQL snippets of this module (deliveries, place), never caller data.
_TO_READY = (
    "UPDATE task SET state = 'ready', eta = NULL, consumer = NULL, claimed_at = NULL,"
    " reason = NULL, error = NULL, failed_at = NULL, deliveries = {}, ord = {}"
    " WHERE queue = ? AND id = ?"
)
_TRIM_DEAD_BYTES = (
    "DELETE FROM task WHERE queue = ?1 AND id IN (SELECT id FROM (SELECT id,"
    " SUM(length(data)) OVER w AS total, ROW_NUMBER() OVER w AS n FROM task"
    " WHERE queue = ?1 AND state = 'dead' WINDOW w AS (ORDER BY failed_at DESC, id DESC))"
    " WHERE total > ?2 AND n > 1)"
)
_RESET, _KEEP, _UNCOUNT = "0", "deliveries", "max(0, deliveries - 1)"
_TO_BACK = _BACK.replace("?1", "task.queue").replace("?4", "task.priority")
_READY = "FROM task WHERE queue = ? AND state = 'ready' ORDER BY priority DESC, ord, id"


class SqliteStorage(Storage):
    def __init__(
        self,
        name: str = "hueyctl",
        filename: str = "hueyctl.db",
        dead_cap: int = DEAD_CAP,
        timeout: float = 10.0,
        *,
        cache_mb: int | None = 8,
        fsync: bool | None = None,
        journal_mode: str | None = "wal",
        strict_fifo: bool = False,
        create_tables: bool = True,
        dead_cap_bytes: int = DEAD_CAP_BYTES,
        **kwargs: object,
    ) -> None:
        """A store in one SQLite file. timeout: seconds a write waits for the file's
        lock (huey's default is 5). fsync: True syncs every commit (synchronous=FULL);
        False or None keep NORMAL (never OFF, as huey's fsync=False does).
        create_tables=False leaves the schema to you (it must exist). strict_fifo is
        accepted as a no-op: tasks of equal priority are always claimed in order.
        dead_cap and dead_cap_bytes bound the dead-letter set by count and by bytes."""
        super().__init__(name, dead_cap=dead_cap, dead_cap_bytes=dead_cap_bytes, **kwargs)
        if journal_mode is not None and journal_mode.lower() not in _JOURNAL_MODES:
            modes = ", ".join(sorted(_JOURNAL_MODES))
            raise ConfigurationError(f"unknown SQLite journal_mode {journal_mode!r}: use {modes}")
        self.filename = filename
        self.path = filename if filename == ":memory:" else os.path.abspath(filename)
        self.timeout = float(timeout)
        self.cache_mb = cache_mb
        self.fsync = fsync
        self.journal_mode = journal_mode
        self.create_tables = create_tables
        self._lock = threading.RLock()
        self._db: Conn | None = None
        self._pid = os.getpid()

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    # --- connection and transactions ---------------------------------------------
    def _open(self) -> Conn:
        conn: Conn | None = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if self.journal_mode:
                conn.execute(f"PRAGMA journal_mode = {self.journal_mode.lower()}")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.fsync else 'NORMAL'}")
            if self.cache_mb:
                conn.execute(f"PRAGMA cache_size = {-1024 * int(self.cache_mb)}")
            if self.create_tables:
                conn.executescript(_SCHEMA)
            if "ord" not in {row[1] for row in conn.execute("PRAGMA table_info(task)")}:
                with contextlib.suppress(sqlite3.OperationalError):  # another process did it
                    conn.execute(_UPGRADE)
            conn.executescript(_ORDER_INDEX)
            return conn
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Conn]:
        """This process's connection, for the calling thread alone; every method goes
        through here, so this is where driver errors become :class:`StoreUnavailable`."""
        if self._pid != os.getpid():  # forked: the parent's connection and lock are not ours
            self._lock, self._db, self._pid = threading.RLock(), None, os.getpid()
        with self._lock:
            if self._db is None:
                self._db = self._open()
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                # Operational: locked, I/O, read-only, disk full; plain: "file is not a
                # database". Integrity and programming errors are bugs and pass through.
                if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
                    raise
                raise StoreUnavailable(f"cannot use SQLite store {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Conn]:
        """One read-modify-write step: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _x(self, conn: Conn, sql: str, *params: Any) -> sqlite3.Cursor:
        """Run ``sql`` whose first placeholder is the queue name."""
        return conn.execute(sql, (self.name, *params))

    def _read(self, sql: str, *params: Any) -> list[Any]:
        with self._locked() as conn:
            return self._x(conn, sql, *params).fetchall()

    # --- helpers (caller is inside a transaction) ---------------------------------
    def _refuse_running(self, conn: Conn, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM task WHERE queue = ? AND state = 'running' AND id IN ({marks})"
            row = self._x(conn, sql, *chunk).fetchone()
            if row is not None:
                raise ConfigurationError(refusal_running(row[0]))

    def _insert(self, conn: Conn, items: Iterable[tuple[Message, str, float | None]]) -> None:
        rows = [(self.name, m.id, m.data, m.priority, st, eta) for m, st, eta in items]
        conn.executemany(_INSERT, rows)

    def _to_ready(
        self, conn: Conn, ids: Iterable[str], deliveries: str, front: bool = False
    ) -> None:
        """Back to ready: at the back of the priority, or (``front``, tasks handed back,
        given in id order) at its front, keeping their id order."""
        sql = _TO_READY.format(deliveries, _FRONT if front else _TO_BACK)
        ordered = sorted(ids, reverse=True) if front else ids
        conn.executemany(sql, [(self.name, i) for i in ordered])

    def _to_dead(self, conn: Conn, items: Iterable[tuple[str, str, str]], now: float) -> None:
        conn.executemany(
            "UPDATE task SET state = 'dead', reason = ?, error = ?, failed_at = ?, consumer = NULL"
            " WHERE queue = ? AND id = ?",
            [(reason, error, now, self.name, i) for i, reason, error in items],
        )
        # keep the newest dead_cap by (failed_at, id), as memory does
        self._x(
            conn,
            "DELETE FROM task WHERE queue = ?1 AND id IN (SELECT id FROM task WHERE queue = ?1"
            " AND state = 'dead' ORDER BY failed_at DESC, id DESC LIMIT -1 OFFSET ?2)",
            max(0, self.dead_cap),
        )
        if self.dead_cap_bytes > 0:  # then by bytes: the newest that fit (the newest stays)
            self._x(conn, _TRIM_DEAD_BYTES, self.dead_cap_bytes)

    def _lease_of(self, conn: Conn, consumer: str) -> float:
        sql = "SELECT until FROM lease WHERE queue = ? AND consumer = ?"
        row = self._x(conn, sql, consumer).fetchone()
        return float(row[0]) if row else 0.0

    def _set_lease(self, conn: Conn, consumer: str, until: float) -> None:
        self._x(conn, "INSERT OR REPLACE INTO lease VALUES (?, ?, ?)", consumer, until)

    # --- queue ---------------------------------------------------------------------
    def enqueue(self, messages: Sequence[Message]) -> None:
        with self._tx() as conn:
            self._refuse_running(conn, [m.id for m in messages])
            self._insert(conn, [(m, "ready", None) for m in messages])

    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        with self._tx() as conn:
            if self._kv_get(conn, key) is not None:
                return False
            self._kv_put(conn, key, b"1", ttl)
            self._insert(conn, [(message, "ready", None)])
            return True

    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        with self._tx() as conn:
            self._refuse_running(conn, [m.id for m, _ in items])
            self._insert(conn, [(m, "scheduled", float(eta)) for m, eta in items])

    def promote(self, now: float, limit: int = PROMOTE_BATCH) -> list[str]:
        with self._tx() as conn:
            sql = (
                "SELECT id FROM task WHERE queue = ? AND state = 'scheduled' AND eta <= ?"
                " ORDER BY eta, id LIMIT ?"
            )
            ids = [r[0] for r in self._x(conn, sql, now, max(0, limit))]
            self._to_ready(conn, ids, _RESET)
            return ids

    def next_eta(self) -> float | None:
        (eta,) = self._read("SELECT min(eta) FROM task WHERE queue = ? AND state = 'scheduled'")[0]
        return None if eta is None else float(eta)

    def claim(self, consumer: str, now: float, limit: int, lease: float) -> list[Claimed]:
        with self._tx() as conn:  # a claim renews the lease, never moves it back
            self._set_lease(conn, consumer, max(now + lease, self._lease_of(conn, consumer)))
            sql = f"SELECT id, data, deliveries {_READY} LIMIT ?"
            rows = self._x(conn, sql, max(0, limit)).fetchall()
            for n, (_, _, delivered) in enumerate(rows):
                if delivered:  # redelivered: alone, or not in this batch
                    rows = rows[: n or 1]
                    break
            conn.executemany(
                "UPDATE task SET state = 'running', consumer = ?, claimed_at = ?,"
                " deliveries = deliveries + 1 WHERE queue = ? AND id = ?",
                [(consumer, now, self.name, r[0]) for r in rows],
            )
            return [Claimed(i, data, d + 1) for i, data, d in rows]

    def finish(self, consumer: str, task_id: str, now: float, outcome: Outcome) -> str | None:
        with self._tx() as conn:
            refused = self._refusal(conn, consumer, task_id, now)
            if refused:
                return refused
            if outcome.dead is not None:
                if outcome.dead_data is not None:
                    sql = "UPDATE task SET data = ? WHERE queue = ? AND id = ?"
                    conn.execute(sql, (outcome.dead_data, self.name, task_id))
                self._to_dead(conn, [(task_id, outcome.dead[0], outcome.dead[1])], now)
            else:
                if outcome.finished is not None:
                    self._keep_finished(conn, task_id, outcome.finished)
                self._x(conn, "DELETE FROM task WHERE queue = ? AND id = ?", task_id)
            for key, value in outcome.results:
                self._kv_put(conn, key, value, outcome.result_ttl)
            self._insert(conn, [(m, "ready", None) for m in outcome.enqueue])
            self._insert(conn, [(m, "scheduled", float(eta)) for m, eta in outcome.schedule])
            return None

    def _keep_finished(self, conn: Conn, task_id: str, record: bytes) -> None:
        """Keep the task's finished record; past twice ``finished_cap`` records (counted
        every ``finished_cap`` inserts), the oldest go down to ``finished_cap``."""
        cur = conn.execute(
            "INSERT OR REPLACE INTO finished (queue, id, data) VALUES (?, ?, ?)",
            (self.name, task_id, record),
        )
        cap = max(1, self.finished_cap)
        if (cur.lastrowid or 0) % cap == 0:
            n = self._x(conn, "SELECT count(*) FROM finished WHERE queue = ?").fetchone()[0]
            if n >= cap:
                self._x(
                    conn,
                    "DELETE FROM finished WHERE queue = ?1 AND seq IN (SELECT seq FROM finished"
                    " WHERE queue = ?1 ORDER BY seq DESC LIMIT -1 OFFSET ?2)",
                    cap,
                )

    def finished(self, task_id: str) -> bytes | None:
        rows = self._read("SELECT data FROM finished WHERE queue = ? AND id = ?", task_id)
        return bytes(rows[0][0]) if rows else None

    def _refusal(self, conn: Conn, consumer: str, task_id: str, now: float) -> str | None:
        sql = "SELECT state, consumer FROM task WHERE queue = ? AND id = ?"
        row = self._x(conn, sql, task_id).fetchone()
        if row is None or row[0] != "running":
            return NOT_RUNNING
        if row[1] != consumer:
            return NOT_OWNER
        return LEASE_LOST if self._lease_of(conn, consumer) < now else None

    def heartbeat(self, consumer: str, now: float, lease: float) -> None:
        with self._tx() as conn:
            self._set_lease(conn, consumer, now + lease)

    def recover(self, now: float, max_deliveries: int) -> Recovered:
        report = Recovered()
        with self._tx() as conn:
            lapsed = self._x(
                conn,
                "SELECT t.id, t.deliveries FROM task t LEFT JOIN lease l ON l.queue = t.queue"
                " AND l.consumer = t.consumer WHERE t.queue = ? AND t.state = 'running'"
                " AND coalesce(l.until, 0.0) < ? ORDER BY t.id",
                now,
            ).fetchall()
            poison = [(i, d) for i, d in lapsed if d >= max_deliveries]
            report.dead.extend(i for i, _ in poison)
            report.requeued.extend(i for i, d in lapsed if d < max_deliveries)
            self._to_ready(conn, report.requeued, _KEEP, front=True)
            if poison:
                error = "delivered {} times without finishing"
                self._to_dead(conn, [(i, "poison", error.format(d)) for i, d in poison], now)
            self._x(conn, "DELETE FROM lease WHERE queue = ? AND until < ?", now)
            self._x(conn, "DELETE FROM kv WHERE queue = ? AND expires <= ?", time.time())
        return report

    def release(
        self, consumer: str, task_ids: Iterable[str] | None = None, count: bool = False
    ) -> list[str]:
        wanted = None if task_ids is None else set(task_ids)
        with self._tx() as conn:
            sql = "SELECT id FROM task WHERE queue = ? AND state = 'running' AND consumer = ?"
            ids = [i for (i,) in self._x(conn, sql + " ORDER BY id", consumer)]
            ids = [i for i in ids if wanted is None or i in wanted]
            self._to_ready(conn, ids, _KEEP if count else _UNCOUNT, front=True)
            if wanted is None:
                self._x(conn, "DELETE FROM lease WHERE queue = ? AND consumer = ?", consumer)
            return ids

    def park(self, consumer: str, name: str, task_ids: Sequence[str], pauses: str) -> list[str]:
        with self._tx() as conn:
            sql = (
                "SELECT 1 FROM task WHERE queue = ? AND id = ? AND state = 'running'"
                " AND consumer = ?"
            )
            ids = [i for i in dict.fromkeys(task_ids) if self._x(conn, sql, i, consumer).fetchone()]
            held = "SELECT 1 FROM map WHERE queue = ? AND name = ? AND field = ?"
            if not self._x(conn, held, pauses, name).fetchone():
                self._to_ready(conn, ids, _UNCOUNT, front=True)
                return []
            # Each keeps its ``ord`` (its place when it was ready): unpark goes by it.
            conn.executemany(
                "UPDATE task SET state = 'parked', reason = ?, consumer = NULL, claimed_at = NULL,"
                " deliveries = max(0, deliveries - 1) WHERE queue = ? AND id = ?",
                [(name, self.name, i) for i in ids],
            )
            return ids

    def unpark(self, name: str, pauses: str, record: bytes | None = None) -> int | None:
        with self._tx() as conn:
            sql = "SELECT value FROM map WHERE queue = ? AND name = ? AND field = ?"
            row = self._x(conn, sql, pauses, name).fetchone()
            if record is not None and (row is None or bytes(row[0]) != record):
                return None
            self._x(
                conn, "DELETE FROM map WHERE queue = ? AND name = ? AND field = ?", pauses, name
            )
            sql = (
                "SELECT id FROM task WHERE queue = ? AND state = 'parked' AND reason = ?"
                " ORDER BY priority DESC, ord, id"
            )
            ids = [i for (i,) in self._x(conn, sql, name)]
            self._to_ready(conn, ids, _KEEP)
            return len(ids)

    def parked(self, name: str) -> int:
        sql = "SELECT count(*) FROM task WHERE queue = ? AND state = 'parked' AND reason = ?"
        return int(self._read(sql, name)[0][0])

    def wait(self, timeout: float) -> None:
        """Poll for work, never longer than ``timeout``: 2 ms doubling to 20 ms (about
        50 cheap reads a second when idle, ~10 ms to notice new work)."""
        deadline = time.monotonic() + max(0.0, timeout)
        step = 0.002
        due = (
            "SELECT 1 FROM task WHERE queue = ? AND (state = 'ready' OR"
            " (state = 'scheduled' AND eta <= ?)) LIMIT 1"
        )
        # Ready work, or a scheduled task that fell due (one scheduled while we slept).
        while not self._read(due, time.time()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(step, left))
            step = min(step * 2, 0.02)

    # --- inspection and admin --------------------------------------------------------
    def counts(self) -> Counts:
        sql = "SELECT state, count(*) FROM task WHERE queue = ? GROUP BY state"
        n = dict(self._read(sql))
        return Counts(*(n.get(s, 0) for s in ("ready", "scheduled", "running", "dead")))

    def ready_items(self, offset: int = 0, limit: int = 100) -> list[Message]:
        sql = f"SELECT id, data, priority {_READY} LIMIT ? OFFSET ?"
        return [Message(*r) for r in self._read(sql, max(0, limit), max(0, offset))]

    def scheduled_items(self, offset: int = 0, limit: int = 100) -> list[tuple[Message, float]]:
        sql = (
            "SELECT id, data, priority, eta FROM task WHERE queue = ? AND state = 'scheduled'"
            " ORDER BY eta, id LIMIT ? OFFSET ?"
        )
        rows = self._read(sql, max(0, limit), max(0, offset))
        return [(Message(i, data, p), float(eta)) for i, data, p, eta in rows]

    def running_items(self) -> list[Running]:
        sql = (
            "SELECT id, data, consumer, claimed_at, deliveries FROM task WHERE queue = ?"
            " AND state = 'running' ORDER BY claimed_at, id"
        )
        return [Running(i, b, c or "", at or 0.0, d) for i, b, c, at, d in self._read(sql)]

    def dead_items(self, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        sql = (
            "SELECT id, data, reason, error, failed_at FROM task WHERE queue = ?"
            " AND state = 'dead' ORDER BY failed_at DESC, id LIMIT ? OFFSET ?"
        )
        rows = self._read(sql, max(0, limit), max(0, offset))
        return [DeadLetter(i, b, r or "", e or "", at) for i, b, r, e, at in rows]

    def ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        sql = (
            "SELECT id FROM task WHERE queue = ?1 AND substr(id, -?2) = ?3 UNION"
            " SELECT id FROM finished WHERE queue = ?1 AND substr(id, -?2) = ?3"
            " ORDER BY id LIMIT ?4"
        )
        return [i for (i,) in self._read(sql, len(suffix), suffix, max(0, limit))]

    def locate(self, task_id: str) -> Located | None:
        sql = (
            "SELECT data, state, priority, eta, consumer, deliveries, reason, error,"
            " CASE state WHEN 'running' THEN claimed_at WHEN 'dead' THEN failed_at END"
            " FROM task WHERE queue = ? AND id = ?"
        )
        rows = self._read(sql, task_id)
        return Located(task_id, *rows[0]) if rows else None

    def remove(self, task_id: str) -> bool:
        sql = "DELETE FROM task WHERE queue = ? AND id = ? AND state != 'running'"
        with self._tx() as conn:
            return self._x(conn, sql, task_id).rowcount > 0

    def retry_dead(self, task_id: str) -> bool:
        sql = "SELECT 1 FROM task WHERE queue = ? AND id = ? AND state = 'dead'"
        with self._tx() as conn:
            found = self._x(conn, sql, task_id).fetchone() is not None
            if found:
                self._to_ready(conn, [task_id], _RESET)
            return found

    def flush(self, state: str) -> int:
        if state not in _FLUSHABLE:
            raise ConfigurationError(f"cannot flush {state!r}: use ready, scheduled or dead")
        with self._tx() as conn:
            return self._x(conn, "DELETE FROM task WHERE queue = ? AND state = ?", state).rowcount

    def consumers(self, now: float) -> dict[str, float]:
        return dict(self._read("SELECT consumer, until FROM lease WHERE queue = ? ORDER BY 1"))

    # --- events and statistics ------------------------------------------------------------
    def record(
        self,
        events: Sequence[bytes],
        stats: Sequence[StatRow],
        cap: int = EVENT_CAP,
        ttl: float = STATS_TTL,
    ) -> None:
        if not events and not stats:
            return
        with self._tx() as conn:
            for data in events:
                self._x(conn, "INSERT INTO event (queue, data) VALUES (?, ?)", data)
            if events:
                self._x(
                    conn,
                    "DELETE FROM event WHERE queue = ?1 AND seq <= (SELECT seq FROM"
                    " event WHERE queue = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                    cap,
                )
            for r in stats:
                self._x(
                    conn,
                    "INSERT INTO stat VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT"
                    " (queue, minute, task) DO UPDATE SET count = count + ?4, failures ="
                    " failures + ?5, total = total + ?6, max = max(max, ?7)",
                    r.minute,
                    r.task,
                    r.count,
                    r.failures,
                    r.total,
                    r.max,
                )
            if stats:
                self._x(conn, "DELETE FROM stat WHERE queue = ? AND minute < ?", time.time() - ttl)

    def read_events(self, after: str | None = None, limit: int = 100) -> list[tuple[str, bytes]]:
        if after is None:
            sql = "SELECT seq, data FROM event WHERE queue = ? ORDER BY seq DESC LIMIT ?"
            rows = list(reversed(self._read(sql, limit)))
        else:
            sql = "SELECT seq, data FROM event WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?"
            rows = self._read(sql, int(after), limit)
        return [(str(seq), bytes(data)) for seq, data in rows]

    def read_stats(self, since_minute: int) -> list[StatRow]:
        sql = (
            "SELECT minute, task, count, failures, total, max FROM stat WHERE queue = ?"
            " AND minute >= ? ORDER BY minute, task"
        )
        return [StatRow(*row) for row in self._read(sql, since_minute)]

    # --- key/value --------------------------------------------------------------------
    def _kv_get(self, conn: Conn, key: str) -> bytes | None:
        sql = "SELECT value, expires FROM kv WHERE queue = ? AND key = ?"
        row = self._x(conn, sql, key).fetchone()
        now = time.time()
        if row is not None and row[1] is not None and row[1] <= now:
            self._x(conn, "DELETE FROM kv WHERE queue = ? AND key = ? AND expires <= ?", key, now)
            return None
        return None if row is None else bytes(row[0])

    def _kv_put(self, conn: Conn, key: str, value: bytes, ttl: float | None) -> None:
        expires = None if ttl is None else time.time() + ttl
        self._x(conn, "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)", key, value, expires)

    def _kv_take(self, conn: Conn, key: str) -> bytes | None:
        value = self._kv_get(conn, key)
        self._x(conn, "DELETE FROM kv WHERE queue = ? AND key = ?", key)
        return value

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._tx() as conn:
            self._kv_put(conn, key, value, ttl)

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        with self._tx() as conn:
            if self._kv_get(conn, key) is not None:
                return False
            self._kv_put(conn, key, value, ttl)
            return True

    def peek(self, key: str) -> bytes | None:
        with self._locked() as conn:  # autocommit: the lazy DELETE is one atomic statement
            return self._kv_get(conn, key)

    def pop(self, key: str) -> bytes | None:
        with self._tx() as conn:
            return self._kv_take(conn, key)

    def delete(self, key: str) -> bool:
        with self._tx() as conn:
            return self._kv_take(conn, key) is not None

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        with self._tx() as conn:
            if self._kv_get(conn, key) != value:
                return False
            return self._kv_take(conn, key) is not None

    def incr(self, key: str, ttl: float) -> int:
        with self._tx() as conn:
            current = self._kv_get(conn, key)
            if current is None:
                self._kv_put(conn, key, b"1", ttl)
                return 1
            value = int(current) + 1
            sql = "UPDATE kv SET value = ? WHERE queue = ? AND key = ?"
            conn.execute(sql, (str(value).encode(), self.name, key))
            return value

    def keys(self, prefix: str) -> list[str]:
        sql = (
            "SELECT key FROM kv WHERE queue = ? AND key >= ?2 AND substr(key, 1, ?3) = ?2"
            " AND (expires IS NULL OR expires > ?4)"
        )
        return sorted(k for (k,) in self._read(sql, prefix, len(prefix), time.time()))

    # --- maps ---------------------------------------------------------------------------
    def map_set(self, name: str, field: str, value: bytes) -> None:
        with self._tx() as conn:
            self._x(conn, "INSERT OR REPLACE INTO map VALUES (?, ?, ?, ?)", name, field, value)

    def map_get(self, name: str, field: str) -> bytes | None:
        sql = "SELECT value FROM map WHERE queue = ? AND name = ? AND field = ?"
        rows = self._read(sql, name, field)
        return bytes(rows[0][0]) if rows else None

    def map_delete(self, name: str, field: str, value: bytes | None = None) -> bool:
        sql = "DELETE FROM map WHERE queue = ? AND name = ? AND field = ?"
        with self._tx() as conn:
            if value is None:
                return self._x(conn, sql, name, field).rowcount > 0
            return self._x(conn, sql + " AND value = ?", name, field, value).rowcount > 0

    def map_items(self, name: str) -> dict[str, bytes]:
        sql = "SELECT field, value FROM map WHERE queue = ? AND name = ?"
        return {f: bytes(v) for f, v in self._read(sql, name)}

    # --- the file's queues ----------------------------------------------------------------
    def announce(self) -> None:
        with self._tx() as conn:
            self._x(conn, "INSERT OR IGNORE INTO map VALUES (?, ?, '', x'')", _ANNOUNCED)

    def queue_names(self, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
        """Every queue with a row anywhere (an announced one has one in ``map``)."""
        with self._locked() as conn:
            return sorted(str(row[0]) for row in conn.execute(_QUEUES).fetchall()), True

    # --- lifecycle ------------------------------------------------------------------------
    def destroy(self) -> None:
        """Delete every row of this queue (running tasks and leases included)."""
        with self._tx() as conn:
            for table in ("task", "kv", "lease", "event", "stat", "map", "finished"):
                self._x(conn, f"DELETE FROM {table} WHERE queue = ?")

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
