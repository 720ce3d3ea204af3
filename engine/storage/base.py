"""The storage contract: a small set of operations that move bytes.

A task lives in exactly one place at a time, and every move between places is
one atomic step of the backend (a Lua script on Redis, a transaction on SQLite,
a lock in memory)::

    schedule ──promote──► ready ──claim──► running ──finish──► (gone, result written)
                            ▲                 │  └──finish(dead=...)──► dead
                            └──recover/release┘  (lease lapsed / handed back)

* ``claim`` records the task as running *for one consumer* in the same step that
  takes it off the ready queue, and counts the delivery.
* ``finish`` is the only way out of running for a live consumer. It is refused
  (returns a reason) unless the caller still owns the task and holds a valid
  lease, so a consumer that was frozen past its lease cannot commit a result
  for a task that has meanwhile been handed to someone else. What a finished
  task leaves behind (its result, the retry it schedules, the next stage of its
  pipeline, its dead letter) is written in that same step.
* ``park`` sets a claimed call of a paused task name aside (state ``parked``) and
  ``unpark`` puts a name's parked calls back on the ready queue, in order.
* ``recover`` returns the running tasks of consumers whose lease lapsed to the
  ready queue; a task delivered ``max_deliveries`` times without finishing goes
  to the dead-letter set with reason ``poison``.

Messages are opaque bytes here; the envelope codec and the task registry live
above (``engine.envelope``).

Queue order (the ``ORDER`` rule, held by the contract suite): ``claim`` takes the
highest priority first and, within a priority, the task that was put on the ready
queue first. Every way onto the ready queue (``enqueue``, ``enqueue_unique``,
``promote``, a ``finish`` that enqueues a retry or a pipeline's next stage,
``retry_dead``) puts the task at the *back* of its priority, as huey appends
them: a retry keeps its id (result handles read by id) but not its old place.
Each store keeps arrival order for this (memory and SQLite: an enqueue sequence,
ties broken by task id; Redis: one list per priority). A task handed back
(``recover``, ``release``) goes to the *front* of its priority, several handed back
at once in id order: it was claimed ahead of everything still waiting there, so the
front is about where it was, and a stopping worker's claimed-ahead tasks are not
pushed behind later work.

Key/value data (results, revocations, periodic slots, locks, user ``put``) is a
flat namespace of string keys with optional TTL; callers prefix their keys.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..exceptions import ConfigurationError, StoreError
from ..ids import new_task_id  # re-exported: stores break order ties on it

# Due scheduled tasks moved per promote() step; a full batch means more may be due.
# (Redis's round script, engine/storage/lua/round.lua, promotes the same number.)
PROMOTE_BATCH = 1000
# record(): the events stream keeps about the last EVENT_CAP events, and the
# per-minute counters live STATS_TTL seconds (hueyctl status reads two hours back).
EVENT_CAP = 10_000
STATS_TTL = 2 * 3600.0
# The dead-letter set keeps at most DEAD_CAP letters and about DEAD_CAP_BYTES bytes of
# their bodies (the oldest go first; the newest letter always stays).
DEAD_CAP = 10_000
DEAD_CAP_BYTES = 32 * 1024 * 1024
# queue_names(): Redis keys read at most when looking for queues never announced.
SCAN_BUDGET = 20_000
# Finished tasks: each store keeps the records of at least the last FINISHED_CAP
# tasks that finished (succeeded, failed without a dead letter, or were skipped) and
# at most about twice as many (Redis keeps two generations, see storage/redis.py); a
# record holds the task's message only when it is at most FINISHED_BODY_MAX bytes
# (name and args stay readable, a big payload is not kept twice).
FINISHED_CAP = 10_000
FINISHED_BODY_MAX = 2048

__all__ = [
    "DEAD_CAP",
    "DEAD_CAP_BYTES",
    "EVENT_CAP",
    "FINISHED_BODY_MAX",
    "FINISHED_CAP",
    "PROMOTE_BATCH",
    "QUEUE_PAUSED",
    "SCAN_BUDGET",
    "STATS_TTL",
    "Claimed",
    "Counts",
    "DeadLetter",
    "Durability",
    "Located",
    "Message",
    "Migration",
    "Outcome",
    "Recovered",
    "Round",
    "Running",
    "StatRow",
    "Storage",
    "new_task_id",
    "pause_in_force",
    "pause_until",
]


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the store sees it.

    ``fresh``: the id was made for this message a moment ago (``new_task_id``) and was
    never given to a store, so nothing can be stored under it: a store may skip its
    checks for an id already there (the Redis store writes such messages with plain
    commands in one transaction instead of a script). False when in doubt."""

    id: str
    data: bytes
    priority: int = 0
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    data: bytes
    deliveries: int


@dataclass(frozen=True, slots=True)
class Round:
    """What one consumer round got: claimed tasks, the watched value, the next eta."""

    claimed: list[Claimed]
    watched: bytes | None
    next_eta: float | None
    more: bool = False  # ready tasks were left (e.g. a redelivered one, claimed alone)
    #: The pause map's fields (``claim_round(pauses=...)``): ``*`` = the whole queue.
    pauses: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Running:
    id: str
    data: bytes
    consumer: str
    claimed_at: float
    deliveries: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    data: bytes
    reason: str
    error: str
    failed_at: float


@dataclass(frozen=True, slots=True)
class Located:
    """Where a task is now: state is ready, scheduled, running or dead."""

    id: str
    data: bytes
    state: str
    priority: int = 0
    eta: float | None = None
    consumer: str | None = None
    deliveries: int = 0
    reason: str | None = None
    error: str | None = None
    since: float | None = None  # claimed at (running) or failed at (dead)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything a finished task leaves behind, written atomically with the ack.

    ``dead`` = (reason, error) keeps the message in the dead-letter set, as
    ``dead_data`` when given (the worker's copy with the attempt history), else as
    it was claimed. ``finished`` is the task's finished record (:func:`finished_record`:
    a JSON head, a newline, the message when small), kept under its id in the same
    step, among at least the last ``finished_cap`` records (not for a dead letter).
    ``enqueue`` / ``schedule`` may reuse the finished task's id (a retry).
    """

    results: Sequence[tuple[str, bytes]] = ()
    result_ttl: float | None = None
    enqueue: Sequence[Message] = ()
    schedule: Sequence[tuple[Message, float]] = ()
    dead: tuple[str, str] | None = None
    finished: bytes | None = None
    dead_data: bytes | None = None


def finished_record(head: bytes, body: bytes) -> bytes:
    """A finished record: ``head`` (JSON), a newline, and the message if small enough."""
    return head + b"\n" + (body if len(body) <= FINISHED_BODY_MAX else b"")


@dataclass(frozen=True, slots=True)
class Recovered:
    requeued: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatRow:
    """Per-minute counters of one task name (``minute`` = epoch seconds // 60 * 60)."""

    minute: int
    task: str
    count: int = 0
    failures: int = 0
    total: float = 0.0
    max: float = 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    ready: int
    scheduled: int
    running: int
    dead: int


@dataclass(frozen=True, slots=True)
class Durability:
    """What a store keeps across a restart, as far as the caller's rights let it see
    (None: could not tell; ``unknown`` says why)."""

    aof: bool | None = None  # Redis: appendonly
    rdb: bool | None = None  # Redis: a save schedule (CONFIG GET save)
    eviction: str | None = None  # Redis: maxmemory-policy
    unknown: str = ""

    @property
    def persistent(self) -> bool | None:
        """True if anything is written to disk, False if nothing is, None if unsure."""
        if self.aof or self.rdb:
            return True
        if self.aof is False and self.rdb is False:
            return False
        return None


@dataclass(frozen=True, slots=True)
class Migration:
    """What ``migrate`` found in a queue, and what it moved (nothing on a dry run).

    ``found``: the layout the queue was in (None: nothing of any layout yet);
    ``counts``: its tasks per state (``ready``, ``scheduled``, ``running``, ``dead``,
    ``parked``) and its stored bodies (``bodies``) in that layout; ``bytes``: the
    memory of the keys a migration replaces, by key; ``moved``: per kind, what moved."""

    queue: str
    found: int | None
    counts: dict[str, int]
    bytes: dict[str, int]
    moved: dict[str, int]
    dry_run: bool


def refusal_running(task_id: str) -> str:
    """Why enqueue/schedule refused an id: a running task keeps its id until it finishes."""
    return f"task id {task_id} is running: a new call needs another id (or wait until it ends)"


#: The field of the pause map (``claim_round(pauses=...)``) that pauses the whole queue;
#: any other field is a task name. A value is a JSON object whose ``until`` (epoch
#: seconds, absent or null: until resumed) is the one part the stores read.
QUEUE_PAUSED = "*"


def pause_until(record: bytes | None) -> float | None:
    """When a pause record lapses (inf: never); None when there is no readable record."""
    if record is None:
        return None
    try:
        until = json.loads(record).get("until")
        return math.inf if until is None else float(until)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return math.inf  # unreadable: held, so a bad record never releases a pause by itself


def pause_in_force(record: bytes | None, now: float) -> bool:
    """Whether a pause record holds at ``now``."""
    until = pause_until(record)
    return until is not None and until > now


# Refusals returned by finish(); None means the finish was committed.
NOT_RUNNING = "not running"
NOT_OWNER = "owned by another consumer"
LEASE_LOST = "lease expired"


def _unknown_options(cls: type, given: dict[str, object]) -> str:
    """One line naming the options a store does not take, and those it does."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = inspect.signature(cls).parameters.values()
    known = [p.name for p in params if p.kind in kinds and p.name not in ("self", "name")]
    takes = f"its options are {', '.join(known)}" if known else "it takes no options"
    return f"unknown option(s) for {cls.__name__}: {', '.join(sorted(given))}: {takes}"


class Storage(ABC):
    """Base class of the three backends. ``name`` is the queue name; ``dead_cap`` and
    ``dead_cap_bytes`` bound the dead-letter set by letters and by the bytes of their
    bodies (0 bytes: no byte cap)."""

    #: Whether the store supports ``priority`` ordering (all of ours do).
    priority = True
    #: How many finished records the store keeps at least (at most about twice as many).
    finished_cap = FINISHED_CAP

    def __init__(
        self,
        name: str = "hueyctl",
        dead_cap: int = DEAD_CAP,
        dead_cap_bytes: int = DEAD_CAP_BYTES,
        **kwargs: object,
    ) -> None:
        if kwargs:
            raise ConfigurationError(_unknown_options(type(self), kwargs))
        self.name = name
        self.dead_cap = dead_cap
        self.dead_cap_bytes = dead_cap_bytes
        self._announced = False

    # --- queue ------------------------------------------------------------
    @abstractmethod
    def enqueue(self, messages: Sequence[Message]) -> None:
        """Add messages to the ready queue. An id already there (or scheduled, or
        dead) moves; an id that is running is refused with ConfigurationError and
        nothing is written."""

    @abstractmethod
    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        """Atomically: unless key/value ``key`` exists, set it (expiring after ``ttl``)
        and enqueue ``message``; whether it did (a periodic slot fires once)."""

    @abstractmethod
    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        """Add messages to the schedule, each with its eta (epoch seconds)."""

    @abstractmethod
    def promote(self, now: float, limit: int = PROMOTE_BATCH) -> list[str]:
        """Move scheduled messages whose eta <= now to the ready queue; return their ids."""

    def promote_all(self, now: float) -> int:
        """Promote every task due at ``now``, a batch at a time, until a batch comes
        back short; return how many moved."""
        moved = 0
        while True:
            batch = len(self.promote(now))
            moved += batch
            if batch < PROMOTE_BATCH:
                return moved

    @abstractmethod
    def next_eta(self) -> float | None:
        """The earliest eta in the schedule, or None when it is empty."""

    @abstractmethod
    def claim(self, consumer: str, now: float, limit: int, lease: float) -> list[Claimed]:
        """Take up to ``limit`` ready messages for ``consumer`` (highest priority,
        then oldest id first) and renew its lease to ``now + lease``.

        A task delivered before without finishing is claimed *alone*: if it is the
        one that keeps killing its worker, the tasks claimed beside it would be
        counted as delivered too and end up dead-lettered as poison with it."""

    def claim_round(
        self,
        consumer: str,
        now: float,
        limit: int,
        lease: float,
        watch: str,
        pauses: str | None = None,
    ) -> Round:
        """A consumer's whole round in one step (one round trip on Redis): promote
        due scheduled tasks, claim up to ``limit``, and report the value of the
        key ``watch`` (a version number) and the next eta still scheduled.

        With ``pauses`` (a map name), the round also returns that map, and claims
        nothing while its field ``*`` (:data:`QUEUE_PAUSED`) holds a pause in force
        at ``now`` (:func:`pause_in_force`). Promotion goes on either way."""
        self.promote_all(now)
        paused = self.map_items(pauses) if pauses is not None else {}
        if pause_in_force(paused.get(QUEUE_PAUSED), now):
            limit = 0
        claimed = self.claim(consumer, now, limit, lease) if limit > 0 else []
        more = self.counts().ready > 0
        return Round(claimed, self.peek(watch), self.next_eta(), more, paused)

    def wait_and_claim_round(
        self,
        block: float,
        consumer: str,
        now: float,
        limit: int,
        lease: float,
        watch: str,
        pauses: str | None = None,
    ) -> Round:
        """``wait(block)``, then ``claim_round`` at the time the wait ended (``now``
        plus the time waited). Redis sends both in one round trip: the round runs
        the moment new work wakes the wait."""
        start = time.monotonic()
        self.wait(block)
        now += time.monotonic() - start
        return self.claim_round(consumer, now, limit, lease, watch, pauses)

    @abstractmethod
    def finish(self, consumer: str, task_id: str, now: float, outcome: Outcome) -> str | None:
        """Ack a running task and write its outcome; None, or why it was refused."""

    def finish_many(
        self, consumer: str, items: Sequence[tuple[str, float, Outcome]]
    ) -> list[str | None]:
        """Several ``finish`` calls (task id, now, outcome), each atomic on its own;
        Redis sends them in one round trip."""
        return [self.finish(consumer, task_id, now, outcome) for task_id, now, outcome in items]

    @abstractmethod
    def heartbeat(self, consumer: str, now: float, lease: float) -> None:
        """Renew ``consumer``'s lease to ``now + lease``."""

    @abstractmethod
    def recover(self, now: float, max_deliveries: int) -> Recovered:
        """Requeue (or dead-letter as ``poison``) the tasks of lapsed consumers."""

    @abstractmethod
    def release(
        self, consumer: str, task_ids: Iterable[str] | None = None, count: bool = False
    ) -> list[str]:
        """Hand back ``consumer``'s running tasks (all when ``task_ids`` is None) to
        the front of the ready queue, without counting the delivery unless
        ``count`` (a task whose run went wrong); with ``task_ids`` None the
        consumer's lease is dropped as well."""

    # --- parking: the calls of a paused task name -----------------------------------
    @abstractmethod
    def park(self, consumer: str, name: str, task_ids: Sequence[str], pauses: str) -> list[str]:
        """Set aside ``consumer``'s running tasks ``task_ids`` (calls of task ``name``,
        claimed while ``name`` is paused) on the parked list of ``name``, after those
        parked before, their delivery not counted; return the ids parked. If the pause
        map ``pauses`` no longer has the field ``name`` (resumed meanwhile), they are
        handed back to the front of the ready queue instead, so none is stranded."""

    @abstractmethod
    def unpark(self, name: str, pauses: str, record: bytes | None = None) -> int | None:
        """Resume task ``name``: delete its field of the pause map ``pauses`` and move
        every call parked under ``name`` to the back of the ready queue, in the order
        parked; return how many moved. With ``record``, only if the field still holds
        it (a lapsed pause, resumed by whichever worker sees it first): None and no
        move when it does not."""

    @abstractmethod
    def parked(self, name: str) -> int:
        """How many calls are parked under task ``name``."""

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` seconds, returning early when work may have arrived."""
        time.sleep(max(0.0, timeout))

    # --- inspection and admin --------------------------------------------
    @abstractmethod
    def counts(self) -> Counts: ...

    @abstractmethod
    def ready_items(self, offset: int = 0, limit: int = 100) -> list[Message]:
        """Ready messages in claim order."""

    @abstractmethod
    def scheduled_items(self, offset: int = 0, limit: int = 100) -> list[tuple[Message, float]]:
        """Scheduled messages by eta."""

    @abstractmethod
    def running_items(self) -> list[Running]: ...

    @abstractmethod
    def dead_items(self, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, newest first."""

    @abstractmethod
    def locate(self, task_id: str) -> Located | None: ...

    @abstractmethod
    def ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        """Up to ``limit`` ids of queued, scheduled, running or dead tasks, or of
        finished ones with a record, that end with ``suffix`` (hex digits): the short
        ids operators type. Read-only, for tools; Redis walks the body bucket(s) the
        suffix can be in and the finished records with HSCAN MATCH (no index to keep)."""

    @abstractmethod
    def finished(self, task_id: str) -> bytes | None:
        """The finished record of a task (see :class:`Outcome`), or None: it never
        finished, or its record was dropped (older than the last ``finished_cap``)."""

    @abstractmethod
    def remove(self, task_id: str) -> bool:
        """Delete a ready, scheduled or dead message (not a running one)."""

    @abstractmethod
    def retry_dead(self, task_id: str) -> bool:
        """Move a dead letter back to the ready queue."""

    def remove_many(self, task_ids: Sequence[str]) -> int:
        """``remove`` each id, each atomic on its own; how many were removed. Redis
        sends them in one round trip (admin bulk actions: a page of ids at a time)."""
        return sum(1 for task_id in task_ids if self.remove(task_id))

    def retry_dead_many(self, task_ids: Sequence[str]) -> int:
        """``retry_dead`` each id, each atomic on its own; how many moved. Redis sends
        them in one round trip."""
        return sum(1 for task_id in task_ids if self.retry_dead(task_id))

    @abstractmethod
    def flush(self, state: str) -> int:
        """Delete every message in ``state`` (ready, scheduled or dead); return the count."""

    @abstractmethod
    def consumers(self, now: float) -> dict[str, float]:
        """Consumers with a lease and when it ends (lapsed ones included until recovered)."""

    # --- events and statistics ---------------------------------------------
    @abstractmethod
    def record(
        self,
        events: Sequence[bytes],
        stats: Sequence[StatRow],
        cap: int = EVENT_CAP,
        ttl: float = STATS_TTL,
    ) -> None:
        """In one round trip: append events to the stream (keeping about the last
        ``cap``) and add each row to its minute's counters (kept ``ttl`` seconds;
        ``max`` is a maximum, the other fields are sums)."""

    @abstractmethod
    def read_events(self, after: str | None = None, limit: int = 100) -> list[tuple[str, bytes]]:
        """Events oldest first: those after the opaque id ``after``, or with
        ``after=None`` the latest ``limit`` ones."""

    @abstractmethod
    def read_stats(self, since_minute: int) -> list[StatRow]:
        """Counter rows of every minute >= ``since_minute``."""

    # --- key/value ---------------------------------------------------------
    @abstractmethod
    def put(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    @abstractmethod
    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool: ...

    @abstractmethod
    def peek(self, key: str) -> bytes | None: ...

    @abstractmethod
    def pop(self, key: str) -> bytes | None: ...

    @abstractmethod
    def delete(self, key: str) -> bool: ...

    @abstractmethod
    def delete_if_equal(self, key: str, value: bytes) -> bool:
        """Delete ``key`` only if it holds ``value`` (lock release by its owner)."""

    @abstractmethod
    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter; a new counter expires after ``ttl`` seconds."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """Live keys starting with ``prefix``."""

    # --- small named maps (registry, revocations, periodic specs) ------------------------
    # Listed in one round trip, unlike keys(prefix), which walks the whole store on Redis.
    @abstractmethod
    def map_set(self, name: str, field: str, value: bytes) -> None: ...

    @abstractmethod
    def map_get(self, name: str, field: str) -> bytes | None: ...

    @abstractmethod
    def map_delete(self, name: str, field: str, value: bytes | None = None) -> bool:
        """Delete ``field`` (only if it holds ``value``, when given)."""

    @abstractmethod
    def map_items(self, name: str) -> dict[str, bytes]: ...

    def wait_result(self, key: str, timeout: float, pop: bool) -> bytes | None:
        """The value at ``key`` (taken when ``pop``), waiting up to ``timeout`` seconds
        for it to be written. Redis is woken by the write; others poll (1 ms to 50 ms)."""
        deadline, pause = time.monotonic() + timeout, 0.001
        while True:
            value = self.pop(key) if pop else self.peek(key)
            left = deadline - time.monotonic()
            if value is not None or left <= 0:
                return value
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)

    #: Whether reading a key may block (a file or a network): ``await_result`` then
    #: looks from a worker thread, so the event loop never waits on it.
    reads_block = True

    async def await_result(
        self, key: str, timeout: float, pop: bool, keep: float | None = None
    ) -> bytes | None:
        """``wait_result`` for asyncio code: never blocks the event loop. This default
        looks with a bounded back-off (2 ms growing to 100 ms), each look in a worker
        thread where ``reads_block``; Redis overrides it to be woken instead. The
        destructive read happens only once the value is seen, on the loop's thread, so
        cancelling the await at any point loses nothing. ``timeout`` may be math.inf;
        ``keep`` is the queue's result TTL (a value taken for a cancelled await goes back
        with it)."""
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + timeout, 0.002
        while True:
            if self.reads_block:
                value = await asyncio.to_thread(self.peek, key)
            else:
                value = self.peek(key)
            if value is not None:
                if pop and not self.delete(key):
                    continue  # another reader took it between the look and the delete
                return value
            left = deadline - loop.time()
            if left <= 0:
                return None
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.1)

    async def aclose(self) -> None:
        """Release what ``await_result`` holds for the running event loop."""

    def flush_keys(self, prefix: str) -> int:
        n = 0
        for key in self.keys(prefix):
            n += self.delete(key)
        return n

    # --- the store's queues -----------------------------------------------------
    def announce(self) -> None:
        """Add this queue's name to the store's list of queues (:meth:`queue_names`):
        once by a starting worker and by a producer's first write, never per task."""

    def announce_once(self) -> None:
        """:meth:`announce` on this connection's first call only (a producer's first
        write). A store that refuses it (an ACL without the list) is left at that:
        nothing depends on the list but ``hueyctl queues``."""
        if self._announced:
            return
        try:
            self.announce()
        except StoreError:
            pass
        self._announced = True

    def queue_names(self, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
        """The queue names this store holds and whether the list is complete: the
        announced ones, plus (Redis) those a scan of at most ``budget`` keys finds
        (queues written before they were announced; ``budget=0``: no scan). None
        when the store cannot say."""
        return None

    # --- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        """Release connections; the storage must not be used afterwards."""

    def destroy(self) -> None:
        """Delete everything this queue holds (tests and ``purge --all``)."""
        for state in ("ready", "scheduled", "dead"):
            self.flush(state)
        self.flush_keys("")

    def durability(self) -> Durability | None:
        """What the store keeps across a restart; None where that is not in question
        (memory, SQLite). Called once by a starting worker, never on the hot path."""
        return None

    def check_format(self, write: bool = True) -> None:
        """Refuse (ConfigurationError, one line) a queue this release cannot use: laid
        out by a newer release, or by an earlier one (``hueyctl migrate`` converts it).
        ``write``: a new queue is marked with this release's layout (a read-only tool
        passes False). A no-op where the store has one layout (memory)."""

    def migrate(self, dry_run: bool = False) -> Migration | None:
        """Convert the queue from an earlier release's layout to this one's, keeping
        every task; ``dry_run``: only count what would move. None where the store has
        one layout (memory)."""
        return None

    def describe(self) -> str:
        """Where the store lives, with any password masked (for banners and errors)."""
        return type(self).__name__
