"""SQLite storage: one file, shared by many queues and many processes.

Schema, format 2 (``PRAGMA user_version`` = :data:`FORMAT`)::

    queue(qid INTEGER PRIMARY KEY, name UNIQUE)  a queue's number in ``task``
    task(pos INTEGER PRIMARY KEY, qid, id, state, priority, deliveries, at,
         consumer, reason, error, data BLOB)     UNIQUE (qid, id)
    kv(queue, key, value BLOB, expires)          PRIMARY KEY (queue, key)
    lease(queue, consumer, until)                PRIMARY KEY (queue, consumer)
    map(queue, name, field, value BLOB)          PRIMARY KEY (queue, name, field)
    event(seq, queue, data BLOB)                 capped per queue by ``record``
    finished(seq, queue, id, data BLOB)          UNIQUE (queue, id)
    stat(queue, minute, task, count, failures, total, max)

A task is one row wherever it is; every move is an UPDATE of that row. ``state``
is a small integer (:data:`READY` 0, scheduled 1, running 2, dead 3, parked 4: a
call of a paused task name, ``reason`` holding the name). ``at`` is the time of the
state: the eta (scheduled), the claim (running) or the failure (dead). Each state
has its own partial index (``WHERE state = n``), so a task sits in exactly one of
them, and a pending task costs its row, one entry of ``task_id`` and one of
``task_ready``.

Queue order (the ``ORDER`` rule of ``storage/base.py``) is the rowid ``pos``: a
task put at the back of its priority gets ``max(pos) + 1`` (what SQLite gives a new
row anyway), one handed back to the front ``min(pos) - 1``; ``task_ready`` on
``(qid, priority DESC)`` holds the rowid after its columns, so it *is* the claim
order, and a claim reaches each row by rowid. No two tasks share a place, so ids
never break ties there. (Where ids do break ties, equal etas or equal failure
times, SQLite sorts a made-up id before a generated one: text before blobs.)

Why this shape (issue 16, W6: file bytes per pending task, ≤ huey's SqliteHuey):
the previous schema kept the queue name and the 36-character id in the row and again
in the primary key and in three full indexes: 447 bytes per pending ``noop(i, "x")``
(a 116-byte body) against 184 for huey's ``SqliteHuey`` (a 142-byte pickle). Now the
queue is a small integer, an id that is a canonical UUID (every id the engine makes)
is stored as its 16 bytes (any other id as its text), and the indexes of other states
cost a pending task nothing: 192 bytes (row 152, ``task_id`` 29, ``task_ready`` 10;
112 with a 40-byte body). A rowid table rather than ``WITHOUT ROWID`` keyed by id
(205): a body up to ~4 KB stays on the row's page (a ``WITHOUT ROWID`` row spills
past ~1 KB onto an overflow page of its own), and the claim index points at a 1-3 byte
rowid instead of the id. 8 KB pages would save under 2 bytes a task and double what a
small commit writes to the WAL. ``benchmarks/sqlite_study.py`` measures the
candidates.

A consumer's round (``claim_round``: promote one batch, read the pause map, claim, and
what the round reports) is one transaction, and ``finish_many`` commits its whole
batch in one: a failure commits none of it, so the batch can be sent again.

Formats: a file without ``user_version`` whose ``task`` table has a ``queue``
column is format 1 (every release before this one, with or without ``ord``). On
first open it is rewritten in one transaction: every task of every queue keeps its
state, body, priority, deliveries, times, consumer, reason and error, and the
waiting ones keep their order (they are copied in claim order). A file of a newer
format is refused with one line (:class:`ConfigurationError`); a ``task`` table
of any other shape (huey's own ``huey.db``) too. ``kv.expires`` is ``time.time()``
based or NULL; expired rows count as absent and are deleted lazily (and swept by
``recover``).

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
    QUEUE_PAUSED,
    SCAN_BUDGET,
    STATS_TTL,
    Claimed,
    Counts,
    DeadLetter,
    Located,
    Message,
    Outcome,
    Recovered,
    Round,
    Running,
    StatRow,
    Storage,
    pause_in_force,
    refusal_running,
)

Conn = sqlite3.Connection

#: The schema this release reads and writes (``PRAGMA user_version``).
FORMAT = 2
#: ``task.state``: the index of the state's name.
STATES = ("ready", "scheduled", "running", "dead", "parked")
READY, SCHEDULED, RUNNING, DEAD, PARKED = range(5)

# One statement each: executescript() would commit the caller's transaction.
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS queue (qid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    # id: BLOB affinity keeps what it is given (16 bytes, or text).
    "CREATE TABLE IF NOT EXISTS task (pos INTEGER PRIMARY KEY, qid INTEGER NOT NULL,"
    " id BLOB NOT NULL, state INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0,"
    " deliveries INTEGER NOT NULL DEFAULT 0, at REAL, consumer TEXT, reason TEXT,"
    " error TEXT, data BLOB NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS task_id ON task (qid, id)",
    f"CREATE INDEX IF NOT EXISTS task_ready ON task (qid, priority DESC) WHERE state = {READY}",
    f"CREATE INDEX IF NOT EXISTS task_sched ON task (qid, at, id) WHERE state = {SCHEDULED}",
    f"CREATE INDEX IF NOT EXISTS task_run ON task (qid, consumer) WHERE state = {RUNNING}",
    f"CREATE INDEX IF NOT EXISTS task_dead ON task (qid, at DESC, id) WHERE state = {DEAD}",
    f"CREATE INDEX IF NOT EXISTS task_parked ON task (qid, reason) WHERE state = {PARKED}",
    "CREATE TABLE IF NOT EXISTS kv (queue TEXT NOT NULL, key TEXT NOT NULL,"
    " value BLOB NOT NULL, expires REAL, PRIMARY KEY (queue, key))",
    "CREATE INDEX IF NOT EXISTS kv_expires ON kv (queue, expires)",
    "CREATE TABLE IF NOT EXISTS lease (queue TEXT NOT NULL, consumer TEXT NOT NULL,"
    " until REAL NOT NULL, PRIMARY KEY (queue, consumer))",
    "CREATE TABLE IF NOT EXISTS map (queue TEXT NOT NULL, name TEXT NOT NULL,"
    " field TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (queue, name, field))",
    "CREATE TABLE IF NOT EXISTS event (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " queue TEXT NOT NULL, data BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS event_queue ON event (queue, seq)",
    "CREATE TABLE IF NOT EXISTS finished (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " queue TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS finished_id ON finished (queue, id)",
    "CREATE TABLE IF NOT EXISTS stat (queue TEXT NOT NULL, minute INTEGER NOT NULL,"
    " task TEXT NOT NULL, count INTEGER NOT NULL, failures INTEGER NOT NULL,"
    " total REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (queue, minute, task))",
)
# Format 1's task table: these columns (``ord`` came later, and may be missing).
_FORMAT1 = frozenset({"queue", "id", "data", "priority", "state", "eta", "consumer"})
_FORMAT1_INDEXES = ("task_ready", "task_order", "task_eta", "task_dead")
# announce(): a row in ``map`` under this name says the queue exists (nothing in it yet).
_ANNOUNCED = "_queue"
_QUEUES = (
    "SELECT name FROM queue q WHERE EXISTS (SELECT 1 FROM task t WHERE t.qid = q.qid)"
    + "".join(f" UNION SELECT DISTINCT queue FROM {t}" for t in ("kv", "lease", "map", "stat"))
)
_JOURNAL_MODES = frozenset({"delete", "truncate", "persist", "memory", "wal", "off"})
_FLUSHABLE = {"ready": READY, "scheduled": SCHEDULED, "dead": DEAD}
# Places: after every row (the back of any priority), or before every row (the front).
_BACK = "(SELECT coalesce(max(pos), 0) + 1 FROM task)"
_FRONT = "(SELECT coalesce(min(pos), 0) - 1 FROM task)"
_INSERT = (
    "INSERT OR REPLACE INTO task (qid, id, state, priority, at, data) VALUES (?, ?, ?, ?, ?, ?)"
)
# {} are SQL snippets of this module (deliveries, place), never caller data.
_TO_READY = (
    f"UPDATE task SET state = {READY}, at = NULL, consumer = NULL, reason = NULL,"
    " error = NULL, deliveries = {}, pos = {} WHERE pos = ?"
)
_DEAD_BY_AGE = f"FROM task WHERE qid = ?1 AND state = {DEAD} ORDER BY at DESC, id DESC"
_TRIM_DEAD_BYTES = (
    "DELETE FROM task WHERE pos IN (SELECT pos FROM (SELECT pos,"
    " SUM(length(data)) OVER w AS total, ROW_NUMBER() OVER w AS n FROM task"
    f" WHERE qid = ?1 AND state = {DEAD} WINDOW w AS (ORDER BY at DESC, id DESC))"
    " WHERE total > ?2 AND n > 1)"
)
_RESET, _KEEP, _UNCOUNT = "0", "deliveries", "max(0, deliveries - 1)"
_READY = f"FROM task WHERE qid = ? AND state = {READY} ORDER BY priority DESC, pos"
_DUE = (
    f"SELECT EXISTS (SELECT 1 FROM task WHERE qid = ?1 AND state = {READY}) OR EXISTS"
    f" (SELECT 1 FROM task WHERE qid = ?1 AND state = {SCHEDULED} AND at <= ?2)"
)
_COUNTS = "SELECT " + ", ".join(
    f"(SELECT count(*) FROM task WHERE qid = ?1 AND state = {s})"
    for s in (READY, SCHEDULED, RUNNING, DEAD)
)
# An id's text in SQL: a 16-byte id is a UUID (8-4-4-4-12 lower-case hex digits).
_ID_TEXT = (
    "CASE WHEN typeof(id) = 'blob' THEN lower(substr(hex(id), 1, 8) || '-' ||"
    " substr(hex(id), 9, 4) || '-' || substr(hex(id), 13, 4) || '-' ||"
    " substr(hex(id), 17, 4) || '-' || substr(hex(id), 21)) ELSE id END"
)


def id_key(task_id: str) -> str | bytes:
    """How an id is stored: a canonical UUID (lower-case, 36 characters) as its 16
    bytes, any other id as it is. :func:`id_text` turns it back, exactly."""
    if len(task_id) == 36 and task_id[8] == "-":
        try:
            raw = bytes.fromhex(task_id.replace("-", ""))
        except ValueError:
            return task_id
        if len(raw) == 16 and id_text(raw) == task_id:
            return raw
    return task_id


def id_text(stored: str | bytes) -> str:
    """The id a stored key stands for (see :func:`id_key`)."""
    if isinstance(stored, bytes):
        h = stored.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return stored


def _newer(path: str, version: int) -> str:
    return (
        f"SQLite store {path} has format {version}; this hueyctl knows up to {FORMAT}:"
        " upgrade hueyctl"
    )


def _statements(conn: Conn, sql: Iterable[str]) -> None:
    for statement in sql:
        conn.execute(statement)


def _upgrade_format1(conn: Conn, columns: set[str]) -> None:
    """Rewrite a format 1 ``task`` table as format 2 (inside the caller's transaction),
    every task kept: the waiting ones are copied in claim order, so they keep it."""
    for index in _FORMAT1_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    conn.execute("ALTER TABLE task RENAME TO task_format1")
    _statements(conn, _SCHEMA)
    conn.execute("INSERT OR IGNORE INTO queue (name) SELECT DISTINCT queue FROM task_format1")
    order = "o.priority DESC, o.ord, o.id" if "ord" in columns else "o.priority DESC, o.id"
    old = conn.execute(
        "SELECT q.qid, o.id, o.state, o.priority, o.deliveries, CASE o.state"
        " WHEN 'scheduled' THEN o.eta WHEN 'running' THEN o.claimed_at"
        " WHEN 'dead' THEN o.failed_at END, o.consumer, o.reason, o.error, o.data"
        " FROM task_format1 o JOIN queue q ON q.name = o.queue"
        f" ORDER BY {order}"
    )
    codes = {name: code for code, name in enumerate(STATES)}
    insert = (
        "INSERT INTO task (qid, id, state, priority, deliveries, at, consumer, reason,"
        " error, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    while rows := old.fetchmany(1000):
        conn.executemany(
            insert,
            [(q, id_key(i), codes[s], *rest) for q, i, s, *rest in rows],
        )
    conn.execute("DROP TABLE task_format1")


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
        self._qid = 0  # the queue's number in ``task``, known once the file is open

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
            self._qid = self._prepare(conn)
            return conn
        except (sqlite3.DatabaseError, ConfigurationError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, ConfigurationError):
                raise
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    def _prepare(self, conn: Conn) -> int:
        """Bring the file to :data:`FORMAT` (create, upgrade or refuse) and return
        this queue's number, in one write transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version != FORMAT:
                self._format(conn, int(version))
            conn.execute("INSERT OR IGNORE INTO queue (name) VALUES (?)", (self.name,))
            (qid,) = conn.execute("SELECT qid FROM queue WHERE name = ?", (self.name,)).fetchone()
            conn.execute("COMMIT")
            return int(qid)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _format(self, conn: Conn, version: int) -> None:
        if version > FORMAT:
            raise ConfigurationError(_newer(self.path, version))
        columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(task)")}
        if not columns:  # a new file (or one without our tables)
            if not self.create_tables:
                return  # the schema is the caller's: using it fails if it is missing
            _statements(conn, _SCHEMA)
        elif _FORMAT1 <= columns:
            _upgrade_format1(conn, columns)
        elif "pos" not in columns or "qid" not in columns:
            raise ConfigurationError(
                f"SQLite store {self.path} has a task table hueyctl did not make"
                " (huey's own file?): use another file"
            )
        conn.execute(f"PRAGMA user_version = {FORMAT}")

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

    def _t(self, conn: Conn, sql: str, *params: Any) -> sqlite3.Cursor:
        """Run ``sql`` on ``task``, whose first placeholder is the queue's number."""
        return conn.execute(sql, (self._qid, *params))

    def _read(self, sql: str, *params: Any) -> list[Any]:
        with self._locked() as conn:
            return self._x(conn, sql, *params).fetchall()

    def _read_tasks(self, sql: str, *params: Any) -> list[Any]:
        with self._locked() as conn:
            return self._t(conn, sql, *params).fetchall()

    # --- helpers (caller is inside a transaction) ---------------------------------
    def _refuse_running(self, conn: Conn, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            chunk = [id_key(i) for i in ids[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM task WHERE qid = ? AND state = {RUNNING} AND id IN ({marks})"
            row = self._t(conn, sql, *chunk).fetchone()
            if row is not None:
                raise ConfigurationError(refusal_running(id_text(row[0])))

    def _insert(self, conn: Conn, items: Iterable[tuple[Message, int, float | None]]) -> None:
        """New rows go after every row: at the back of their priority."""
        q = self._qid
        rows = [(q, id_key(m.id), st, m.priority, at, m.data) for m, st, at in items]
        conn.executemany(_INSERT, rows)

    def _pos(self, conn: Conn, task_id: str, state: int) -> int | None:
        sql = "SELECT pos FROM task WHERE qid = ? AND id = ? AND state = ?"
        row = self._t(conn, sql, id_key(task_id), state).fetchone()
        return None if row is None else int(row[0])

    def _to_ready(self, conn: Conn, places: Sequence[int], deliveries: str) -> None:
        """Back to ready, at the back of the priority, in the order given."""
        conn.executemany(_TO_READY.format(deliveries, _BACK), [(p,) for p in places])

    def _hand_back(self, conn: Conn, tasks: Sequence[tuple[int, str]], deliveries: str) -> None:
        """Back to ready at the front of the priority, (place, id) pairs ending in id
        order: the last id goes first, so the first ends up in front."""
        ordered = sorted(tasks, key=lambda t: t[1], reverse=True)
        conn.executemany(_TO_READY.format(deliveries, _FRONT), [(p,) for p, _ in ordered])

    def _to_dead(self, conn: Conn, items: Iterable[tuple[int, str, str]], now: float) -> None:
        conn.executemany(
            f"UPDATE task SET state = {DEAD}, reason = ?, error = ?, at = ?, consumer = NULL"
            " WHERE pos = ?",
            [(reason, error, now, pos) for pos, reason, error in items],
        )
        # keep the newest dead_cap by (failed at, id), as memory does
        self._t(
            conn,
            f"DELETE FROM task WHERE pos IN (SELECT pos {_DEAD_BY_AGE} LIMIT -1 OFFSET ?2)",
            max(0, self.dead_cap),
        )
        if self.dead_cap_bytes > 0:  # then by bytes: the newest that fit (the newest stays)
            self._t(conn, _TRIM_DEAD_BYTES, self.dead_cap_bytes)

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
            self._insert(conn, [(m, READY, None) for m in messages])

    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        with self._tx() as conn:
            if self._kv_get(conn, key) is not None:
                return False
            self._kv_put(conn, key, b"1", ttl)
            self._insert(conn, [(message, READY, None)])
            return True

    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        with self._tx() as conn:
            self._refuse_running(conn, [m.id for m, _ in items])
            self._insert(conn, [(m, SCHEDULED, float(eta)) for m, eta in items])

    def promote(self, now: float, limit: int = PROMOTE_BATCH) -> list[str]:
        with self._tx() as conn:
            return self._promote(conn, now, limit)

    def _promote(self, conn: Conn, now: float, limit: int) -> list[str]:
        sql = (
            f"SELECT pos, id FROM task WHERE qid = ? AND state = {SCHEDULED} AND at <= ?"
            " ORDER BY at, id LIMIT ?"
        )
        due = self._t(conn, sql, now, max(0, limit)).fetchall()
        self._to_ready(conn, [p for p, _ in due], _RESET)
        return [id_text(i) for _, i in due]

    def next_eta(self) -> float | None:
        with self._locked() as conn:
            return self._next_eta(conn)

    def _next_eta(self, conn: Conn) -> float | None:
        sql = f"SELECT min(at) FROM task WHERE qid = ? AND state = {SCHEDULED}"
        (eta,) = self._t(conn, sql).fetchone()
        return None if eta is None else float(eta)

    def claim(self, consumer: str, now: float, limit: int, lease: float) -> list[Claimed]:
        with self._tx() as conn:
            return self._claim(conn, consumer, now, limit, lease)

    def _claim(
        self, conn: Conn, consumer: str, now: float, limit: int, lease: float
    ) -> list[Claimed]:
        # a claim renews the lease, never moves it back
        self._set_lease(conn, consumer, max(now + lease, self._lease_of(conn, consumer)))
        sql = f"SELECT pos, id, data, deliveries {_READY} LIMIT ?"
        rows = self._t(conn, sql, max(0, limit)).fetchall()
        for n, row in enumerate(rows):
            if row[3]:  # redelivered: alone, or not in this batch
                rows = rows[: n or 1]
                break
        conn.executemany(
            f"UPDATE task SET state = {RUNNING}, consumer = ?, at = ?,"
            " deliveries = deliveries + 1 WHERE pos = ?",
            [(consumer, now, r[0]) for r in rows],
        )
        return [Claimed(id_text(i), data, d + 1) for _, i, data, d in rows]

    def claim_round(
        self,
        consumer: str,
        now: float,
        limit: int,
        lease: float,
        watch: str,
        pauses: str | None = None,
    ) -> Round:
        """The base class's round in one transaction (one commit instead of two and
        four reads); like Redis's round, it promotes one batch of due tasks."""
        with self._tx() as conn:
            self._promote(conn, now, PROMOTE_BATCH)
            paused: dict[str, bytes] = {}
            if pauses is not None:
                sql = "SELECT field, value FROM map WHERE queue = ? AND name = ?"
                paused = {f: bytes(v) for f, v in self._x(conn, sql, pauses)}
            if pause_in_force(paused.get(QUEUE_PAUSED), now):
                limit = 0
            claimed = self._claim(conn, consumer, now, limit, lease) if limit > 0 else []
            more = f"SELECT EXISTS (SELECT 1 FROM task WHERE qid = ? AND state = {READY})"
            waiting = bool(self._t(conn, more).fetchone()[0])
            watched = self._kv_get(conn, watch)
            return Round(claimed, watched, self._next_eta(conn), waiting, paused)

    def finish(self, consumer: str, task_id: str, now: float, outcome: Outcome) -> str | None:
        with self._tx() as conn:
            return self._finish(conn, consumer, task_id, now, outcome)

    def finish_many(
        self, consumer: str, items: Sequence[tuple[str, float, Outcome]]
    ) -> list[str | None]:
        """Every finish in one transaction: one commit for the batch, and a failure
        commits none of them (so the batch may be sent again as it is)."""
        with self._tx() as conn:
            return [self._finish(conn, consumer, t, now, o) for t, now, o in items]

    def _finish(
        self, conn: Conn, consumer: str, task_id: str, now: float, outcome: Outcome
    ) -> str | None:
        sql = "SELECT pos, state, consumer FROM task WHERE qid = ? AND id = ?"
        row = self._t(conn, sql, id_key(task_id)).fetchone()
        refused = self._refusal(conn, row, consumer, now)
        if refused:
            return refused
        pos = int(row[0])
        if outcome.dead is not None:
            if outcome.dead_data is not None:
                conn.execute("UPDATE task SET data = ? WHERE pos = ?", (outcome.dead_data, pos))
            self._to_dead(conn, [(pos, outcome.dead[0], outcome.dead[1])], now)
        else:
            if outcome.finished is not None:
                self._keep_finished(conn, task_id, outcome.finished)
            conn.execute("DELETE FROM task WHERE pos = ?", (pos,))
        for key, value in outcome.results:
            self._kv_put(conn, key, value, outcome.result_ttl)
        self._insert(conn, [(m, READY, None) for m in outcome.enqueue])
        self._insert(conn, [(m, SCHEDULED, float(eta)) for m, eta in outcome.schedule])
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

    def _refusal(self, conn: Conn, row: Any, consumer: str, now: float) -> str | None:
        """Why ``consumer`` may not finish the task of ``row`` (pos, state, consumer)."""
        if row is None or row[1] != RUNNING:
            return NOT_RUNNING
        if row[2] != consumer:
            return NOT_OWNER
        return LEASE_LOST if self._lease_of(conn, consumer) < now else None

    def heartbeat(self, consumer: str, now: float, lease: float) -> None:
        with self._tx() as conn:
            self._set_lease(conn, consumer, now + lease)

    def recover(self, now: float, max_deliveries: int) -> Recovered:
        report = Recovered()
        with self._tx() as conn:
            lapsed = conn.execute(
                "SELECT t.pos, t.id, t.deliveries FROM task t LEFT JOIN lease l"
                " ON l.queue = ?2 AND l.consumer = t.consumer"
                f" WHERE t.qid = ?1 AND t.state = {RUNNING} AND coalesce(l.until, 0.0) < ?3",
                (self._qid, self.name, now),
            ).fetchall()
            tasks = sorted((id_text(i), p, d) for p, i, d in lapsed)
            poison = [(p, i, d) for i, p, d in tasks if d >= max_deliveries]
            back = [(p, i) for i, p, d in tasks if d < max_deliveries]
            report.dead.extend(i for _, i, _ in poison)
            report.requeued.extend(i for _, i in back)
            self._hand_back(conn, back, _KEEP)
            if poison:
                error = "delivered {} times without finishing"
                self._to_dead(conn, [(p, "poison", error.format(d)) for p, _, d in poison], now)
            self._x(conn, "DELETE FROM lease WHERE queue = ? AND until < ?", now)
            self._x(conn, "DELETE FROM kv WHERE queue = ? AND expires <= ?", time.time())
        return report

    def release(
        self, consumer: str, task_ids: Iterable[str] | None = None, count: bool = False
    ) -> list[str]:
        wanted = None if task_ids is None else set(task_ids)
        with self._tx() as conn:
            sql = f"SELECT pos, id FROM task WHERE qid = ? AND state = {RUNNING} AND consumer = ?"
            held = sorted((id_text(i), p) for p, i in self._t(conn, sql, consumer))
            tasks = [(p, i) for i, p in held if wanted is None or i in wanted]
            self._hand_back(conn, tasks, _KEEP if count else _UNCOUNT)
            if wanted is None:
                self._x(conn, "DELETE FROM lease WHERE queue = ? AND consumer = ?", consumer)
            return [i for _, i in tasks]

    def park(self, consumer: str, name: str, task_ids: Sequence[str], pauses: str) -> list[str]:
        with self._tx() as conn:
            sql = (
                f"SELECT pos FROM task WHERE qid = ? AND id = ? AND state = {RUNNING}"
                " AND consumer = ?"
            )
            tasks = []
            for i in dict.fromkeys(task_ids):
                row = self._t(conn, sql, id_key(i), consumer).fetchone()
                if row is not None:
                    tasks.append((int(row[0]), i))
            held = "SELECT 1 FROM map WHERE queue = ? AND name = ? AND field = ?"
            if not self._x(conn, held, pauses, name).fetchone():
                self._hand_back(conn, tasks, _UNCOUNT)
                return []
            # Each keeps its ``pos`` (its place when it was ready): unpark goes by it.
            conn.executemany(
                f"UPDATE task SET state = {PARKED}, reason = ?, consumer = NULL, at = NULL,"
                " deliveries = max(0, deliveries - 1) WHERE pos = ?",
                [(name, p) for p, _ in tasks],
            )
            return [i for _, i in tasks]

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
                f"SELECT pos FROM task WHERE qid = ? AND state = {PARKED} AND reason = ?"
                " ORDER BY priority DESC, pos"
            )
            places = [p for (p,) in self._t(conn, sql, name)]
            self._to_ready(conn, places, _KEEP)
            return len(places)

    def parked(self, name: str) -> int:
        sql = f"SELECT count(*) FROM task WHERE qid = ? AND state = {PARKED} AND reason = ?"
        return int(self._read_tasks(sql, name)[0][0])

    def wait(self, timeout: float) -> None:
        """Poll for work, never longer than ``timeout``: 2 ms doubling to 20 ms (about
        50 cheap reads a second when idle, ~10 ms to notice new work)."""
        deadline = time.monotonic() + max(0.0, timeout)
        step = 0.002
        # Ready work, or a scheduled task that fell due (one scheduled while we slept).
        while not self._read_tasks(_DUE, time.time())[0][0]:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(step, left))
            step = min(step * 2, 0.02)

    # --- inspection and admin --------------------------------------------------------
    def counts(self) -> Counts:
        return Counts(*self._read_tasks(_COUNTS)[0])

    def ready_items(self, offset: int = 0, limit: int = 100) -> list[Message]:
        sql = f"SELECT id, data, priority {_READY} LIMIT ? OFFSET ?"
        rows = self._read_tasks(sql, max(0, limit), max(0, offset))
        return [Message(id_text(i), data, p) for i, data, p in rows]

    def scheduled_items(self, offset: int = 0, limit: int = 100) -> list[tuple[Message, float]]:
        sql = (
            f"SELECT id, data, priority, at FROM task WHERE qid = ? AND state = {SCHEDULED}"
            " ORDER BY at, id LIMIT ? OFFSET ?"
        )
        rows = self._read_tasks(sql, max(0, limit), max(0, offset))
        return [(Message(id_text(i), data, p), float(eta)) for i, data, p, eta in rows]

    def running_items(self) -> list[Running]:
        sql = (
            "SELECT id, data, consumer, at, deliveries FROM task WHERE qid = ?"
            f" AND state = {RUNNING} ORDER BY at, id"
        )
        rows = self._read_tasks(sql)
        return [Running(id_text(i), b, c or "", at or 0.0, d) for i, b, c, at, d in rows]

    def dead_items(self, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        sql = (
            "SELECT id, data, reason, error, at FROM task WHERE qid = ?"
            f" AND state = {DEAD} ORDER BY at DESC, id LIMIT ? OFFSET ?"
        )
        rows = self._read_tasks(sql, max(0, limit), max(0, offset))
        return [DeadLetter(id_text(i), b, r or "", e or "", at) for i, b, r, e, at in rows]

    def ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        sql = (
            f"SELECT t FROM (SELECT {_ID_TEXT} AS t FROM task WHERE qid = ?1)"
            " WHERE substr(t, -?2) = ?3 UNION SELECT id FROM finished WHERE queue = ?5"
            " AND substr(id, -?2) = ?3 ORDER BY 1 LIMIT ?4"
        )
        rows = self._read_tasks(sql, len(suffix), suffix, max(0, limit), self.name)
        return [str(i) for (i,) in rows]

    def locate(self, task_id: str) -> Located | None:
        sql = (
            "SELECT data, state, priority, at, consumer, deliveries, reason, error"
            " FROM task WHERE qid = ? AND id = ?"
        )
        rows = self._read_tasks(sql, id_key(task_id))
        if not rows:
            return None
        data, state, priority, at, consumer, deliveries, reason, error = rows[0]
        eta = at if state == SCHEDULED else None
        since = at if state in (RUNNING, DEAD) else None
        return Located(
            task_id, data, STATES[state], priority, eta, consumer, deliveries, reason, error, since
        )

    def remove(self, task_id: str) -> bool:
        sql = f"DELETE FROM task WHERE qid = ? AND id = ? AND state != {RUNNING}"
        with self._tx() as conn:
            return self._t(conn, sql, id_key(task_id)).rowcount > 0

    def retry_dead(self, task_id: str) -> bool:
        with self._tx() as conn:
            pos = self._pos(conn, task_id, DEAD)
            if pos is not None:
                self._to_ready(conn, [pos], _RESET)
            return pos is not None

    def flush(self, state: str) -> int:
        if state not in _FLUSHABLE:
            raise ConfigurationError(f"cannot flush {state!r}: use ready, scheduled or dead")
        sql = f"DELETE FROM task WHERE qid = ? AND state = {_FLUSHABLE[state]}"
        with self._tx() as conn:
            return self._t(conn, sql).rowcount

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
            self._t(conn, "DELETE FROM task WHERE qid = ?")
            for table in ("kv", "lease", "event", "stat", "map", "finished"):
                self._x(conn, f"DELETE FROM {table} WHERE queue = ?")

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
