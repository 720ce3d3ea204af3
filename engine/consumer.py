"""The consumer: a dispatcher loop, worker threads, and a heartbeat.

* The dispatcher (:meth:`Consumer.step`) promotes scheduled tasks, fires
  periodic ones, and claims for its idle workers plus a prefetch (sized by how
  fast tasks finish) in one round trip. With nothing to do, its next round
  first blocks in the store (``wait_and_claim_round``) until the next due time,
  woken early by new work, which it claims in that same round trip. With thread
  workers that waiting round runs on an idle worker thread, which runs the first
  task it claims itself: no handoff between threads for work that finds the
  consumer idle (the dispatcher waits for the round to come back).
* Worker threads run tasks (``inline=True`` runs them on the dispatcher thread
  instead, which is what process workers do, so SIGALRM can enforce timeouts).
  A task that has run frees its room for claiming at once, while its outcome is
  still on its way to the store in the committer's batch (up to a window of such
  tasks: see ``room``), so claiming overlaps committing instead of alternating.
* The heartbeat thread renews the lease, writes the registry entry, flushes
  events and counters (one round trip per beat), runs the recovery sweep, and
  hands back tasks the store says we hold but we do not know about (a claim
  whose reply was lost).

Stopping (SIGINT/SIGTERM): claim nothing more, hand back at once (one release)
what was claimed ahead and not started, give running tasks up to
``shutdown_timeout`` seconds, hand back whatever is still running so another
consumer takes it at once, deregister. A second signal stops at once (tasks
are handed back, not lost). SIGHUP does the same and sets ``restart``.

A consumer that went without renewing its lease for longer than the lease (paused by
SIGSTOP, a stalled VM) starts none of the tasks it had claimed ahead: they may have
been recovered and run elsewhere. It hands back those still its own, unstarted.

For tests, ``step(now)`` does one whole round (heartbeat included) with an
injected clock and no threads.

Runtime floor: works on a :class:`~engine.core.QueueCore`. Its defaults live
once, in :class:`ConsumerSettings`, which ``hueyctl worker`` reads too.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

from . import cancellation, catalog
from .aio import AsyncRunner
from .core import QueueCore
from .exceptions import (
    CodecError,
    ConfigurationError,
    StoreFull,
    StoreUnavailable,
    TaskCancelled,
    TaskTimeout,
)
from .executor import Committer, Executor, StoreHealth
from .keys import (
    CANCELS,
    CATALOG,
    PAUSES,
    QUEUE_PAUSED,
    REVOKE_VERSION,
    WORKERS,
    RegistryRecord,
    StoreRecord,
)
from .locks import flush_locks
from .scheduler import Scheduler
from .storage.base import Claimed, pause_in_force, pause_until
from .task import Task
from .telemetry import Telemetry, registry_record

log = logging.getLogger("huey.consumer")

ORPHAN_GRACE = 5.0  # a claim younger than this may still be on its way to a worker
PREFETCH_BUDGET = 0.005  # claim ahead about this many seconds of work per worker
PREFETCH_MAX = 32  # claimed ahead by one consumer, at most (threads: 8 per thread, up to 64)
PAUSE_POLL = 0.5  # a paused consumer looks again this often (resume is seen this soon)
CANCEL_POLL = 0.5  # while running tasks, the cancel requests are read this often
CANCEL_STALE = 3600.0  # a cancel request nobody acted on is dropped after this long
# The task catalog (and the queue's name in the store's list) is written at the first
# heartbeat and again every CATALOG_BEATS beats (about a minute), never per task.
CATALOG_BEATS = 30
#: Threads in one process, a process per worker, or coroutines on one loop (engine.aio).
WORKER_TYPES = ("thread", "process", "asyncio")


@dataclass(frozen=True, slots=True)
class _Round:
    """On the workers' inbox: run the dispatcher's blocking round (Consumer.loop)."""

    block: float


#: What the worker threads take from the inbox: a claimed task with its lease
#: generation, a round to run, or None (stop).
_Entry = tuple[int, "Claimed"] | _Round | None


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How a consumer runs: every default lives here (``hueyctl worker`` reads them).

    ``utc=None`` evaluates crontabs in the queue's own mode; ``prefetch=None`` sizes
    the claim-ahead by how fast tasks finish (:class:`AdaptivePrefetch`)."""

    workers: int = 1
    worker_type: str = "thread"
    periodic: bool = True
    utc: bool | None = None
    scheduler_interval: float = 1.0
    lease: float = 10.0
    heartbeat_interval: float = 2.0
    recovery_interval: float = 2.0
    max_deliveries: int = 3
    shutdown_timeout: float | None = 30.0
    max_tasks: int | None = None
    flush_locks: bool = False
    extra_locks: tuple[str, ...] = ()
    inline: bool = False
    prefetch: int | None = None
    # Process workers only: how often the supervisor checks on its children.
    health_check_interval: float = 1.0
    # Process workers only: a cancelled task that has not stopped this many seconds
    # after the cancel is ended as cancelled and its process killed (and replaced).
    cancel_grace: float = 5.0
    # huey's consumer options that have no effect here (docs/huey-differences.md):
    # an idle consumer blocks in the store and is woken by new work, so it never
    # polls (initial_delay, backoff, max_delay); dead worker processes are always
    # replaced and worker threads never die (check_worker_health); SIGINT and
    # SIGTERM both stop gracefully, a second one at once (graceful_signal).
    initial_delay: float = 0.1
    backoff: float = 1.15
    max_delay: float = 10.0
    check_worker_health: bool = True
    graceful_signal: str = "INT"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.heartbeat_interval >= self.lease:
            raise ValueError("the heartbeat interval must be shorter than the lease")
        if self.worker_type not in WORKER_TYPES:
            raise ConfigurationError(
                f"worker_type={self.worker_type!r} is not offered: use 'thread', 'process'"
                " or 'asyncio'"
            )
        if self.worker_type == "asyncio" and self.inline:
            raise ConfigurationError("an asyncio worker runs its tasks on its loop, not inline")
        if self.worker_type == "process" and not self.inline:
            raise ConfigurationError(
                "a Consumer runs in this process: for process workers use "
                "huey.create_consumer(worker_type='process') or hueyctl worker -k process"
            )
        if self.graceful_signal not in ("INT", "TERM"):
            raise ConfigurationError(
                f"graceful_signal={self.graceful_signal!r}: use 'INT' or 'TERM' "
                "(both stop gracefully here)"
            )

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Refuse, in one line, a keyword that is no consumer option."""
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigurationError(
                f"unknown consumer option(s): {', '.join(unknown)}: "
                f"the options are {', '.join(f.name for f in fields(cls))}"
            )


class AdaptivePrefetch:
    """How many tasks a consumer claims ahead of its free workers.

    What is claimed ahead waits for a free worker (a process runs its claims one
    after another): unless told how many, a consumer claims ahead what it gets
    through in about PREFETCH_BUDGET, by the average time per finished task so far:
    many short tasks per round trip, and no slow task held back from another
    consumer. Until it knows, 3 (a process) or 4 per thread."""

    def __init__(self, workers: int, inline: bool, fixed: int | None = None) -> None:
        self.adaptive = fixed is None
        self.initial = fixed if fixed is not None else (3 if inline else min(4 * workers, 64))
        self.cap = PREFETCH_MAX if inline else min(8 * workers, 64)
        self.per_task = PREFETCH_BUDGET / max(self.initial, 1)  # s per finished task, averaged
        self.last_done = 0.0

    def size(self) -> int:
        """How many to claim ahead now."""
        if not self.adaptive:
            return self.initial
        return min(self.cap, int(PREFETCH_BUDGET / max(self.per_task, 1e-6)))

    def observe(self, start: float, end: float) -> None:
        """A task ran from ``start`` to ``end`` (perf_counter): update the average.

        Time per task: since the last one finished (threads overlap), but never more
        than this one took (an idle spell is not slowness). A moving average over about
        8 tasks; threads may race on it and lose an update."""
        took = max(0.0, min(end - start, end - self.last_done))
        self.last_done = end
        self.per_task += (took - self.per_task) / 8


def skewed_clock() -> Callable[[], float]:
    """``time.time``, or shifted by ``HUEYCTL_CLOCK_SKEW`` seconds when that is set: for
    tests that run a real worker whose clock is off (libfaketime breaks Python's timed
    waits). Not for production: a worker's clock should be synced (NTP)."""
    skew = os.environ.get("HUEYCTL_CLOCK_SKEW")
    if not skew:
        return time.time
    try:
        offset = float(skew)
    except ValueError:
        raise ConfigurationError(f"HUEYCTL_CLOCK_SKEW must be seconds, not {skew!r}") from None
    return lambda: time.time() + offset


def make_consumer_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


@contextmanager
def alarm_timeout(seconds: float | None) -> Iterator[None]:
    """Raise TaskTimeout in the main thread after ``seconds`` (process workers)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TaskTimeout(f"timeout {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Consumer:
    """One consumer: ``Consumer(queue, settings)`` or ``Consumer(queue, lease=..., ...)``
    with any :class:`ConsumerSettings` field as a keyword (huey's consumer options
    included); any other keyword raises ConfigurationError."""

    def __init__(
        self,
        huey: QueueCore,
        settings: ConsumerSettings | None = None,
        *,
        consumer_id: str | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        ConsumerSettings.check_options(options)
        if "extra_locks" in options:
            options["extra_locks"] = tuple(options["extra_locks"] or ())
        if settings is None:
            settings = ConsumerSettings(**options)
        elif options:
            settings = replace(settings, **options)
        self.settings = settings
        if clock is time.time:
            clock = skewed_clock()
        self.huey = huey
        inline = settings.inline
        self.workers = 1 if inline else settings.workers
        self.worker_type = settings.worker_type
        self.inline = inline
        self.lease = settings.lease
        self.heartbeat_interval = settings.heartbeat_interval
        self.recovery_interval = settings.recovery_interval
        self.max_deliveries = settings.max_deliveries
        self.shutdown_timeout = settings.shutdown_timeout
        self.max_tasks = settings.max_tasks
        self.clock = clock
        self.consumer_id = consumer_id or make_consumer_id()
        self.scheduler = Scheduler(
            huey, periodic=settings.periodic, utc=settings.utc, interval=settings.scheduler_interval
        )
        self.executor = Executor(
            huey,
            self.consumer_id,
            lease=settings.lease,
            clock=clock,
            timeout_guard=alarm_timeout if inline else None,
        )
        self.telemetry = Telemetry(huey, self.consumer_id, clock)
        self.catalog_digest, self._catalog = catalog.encode(catalog.build(huey.registry.values()))
        self.executor.notify = self.telemetry.note
        self.executor.alone = lambda: self.busy <= 1  # claimed ahead counts too
        #: The asyncio worker's loop (``worker_type="asyncio"``), else None.
        self.runner: AsyncRunner | None = None
        if self.worker_type == "asyncio":
            self.runner = AsyncRunner(self.executor, self.workers, self._take, self._forget)
        self.started_at = clock()
        self.restart = False
        #: What the start-up check found about the store (engine.preflight), published
        #: in the registry entry; set by whoever ran the check (``hueyctl worker``).
        self.store_record: StoreRecord | None = None
        # Tasks claimed ahead of free workers (thread workers only; a process runs one).
        self.prefetch = AdaptivePrefetch(settings.workers, inline, settings.prefetch)
        if self.worker_type == "asyncio" and settings.prefetch is None:
            # Coroutines overlap: claim ahead half the slots (at least 64), so a slot that
            # frees finds its next task waiting while finished ones are being committed.
            self.prefetch = AdaptivePrefetch(settings.workers, inline, max(64, self.workers // 2))
        #: What times a task's run for the prefetch estimate (tests inject a fake).
        self.timer: Callable[[], float] = time.perf_counter
        self._slot_free = threading.Event()
        self._slot_wanted = False  # whether the dispatcher waits on _slot_free
        # Process workers leave Ctrl-C to their supervisor, which sends SIGTERM.
        self.handle_sigint = not inline
        # Claimed tasks for the worker threads, each with the lease generation it was
        # claimed in (see _lease_generation).
        self._inbox: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
        # A blocking round handed to an idle worker thread (see loop): set when it is
        # back, its result (the wait step() returned, None: the store failed) beside.
        self._delegated = threading.Event()
        self._delegated_wait: float | None = None
        self._lease_lock = threading.Lock()
        self._lease_until = math.inf  # monotonic: our lease surely holds until then
        self._lease_gen = 0
        # Process workers (inline): the tasks of the current round not yet started.
        self._ahead: collections.deque[Claimed] = collections.deque()
        # Claimed by us and not yet finished: a multiset, since a retry may be claimed
        # again (same id) before the first run's bookkeeping is done.
        self._claimed: collections.Counter[str] = collections.Counter()
        self._claimed_lock = threading.Lock()
        # Of those, the ones not yet run to their end here (waiting for a worker, or
        # running); the rest wait for their commit. The asyncio runner's slots are its
        # own: there every claim counts until committed.
        self._held = 0
        self._held_tracked = self.runner is None
        self._busy = 0  # _claimed.total(), kept up to date
        self._threads: list[threading.Thread] = []
        self._heart: threading.Thread | None = None
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._released = threading.Event()
        self._next_heartbeat = 0.0
        self._next_recovery = 0.0
        self._beats = 0
        self._catalog_due = 0  # the beat that (re)writes the catalog: the first, then every 30
        self._claimed_total = 0
        # Pauses (the ``pauses`` map, read by every claim round): whether the queue is
        # paused, and the task names paused (their calls are parked when claimed).
        self.paused: dict[str, Any] | None = None
        self._task_pauses: dict[str, bytes] = {}
        # Cancel requests acted on (task ids), until their call ends.
        self._cancelling: set[str] = set()
        #: time.monotonic() of the last dispatcher round begun and of the last heartbeat
        #: attempted: what a liveness probe reads (:meth:`liveness`). Plain attribute
        #: writes, no store access.
        self.last_round = self.last_beat = time.monotonic()
        self._round_block = 0.0
        #: Called after each heartbeat attempted (a process worker's child tells
        #: its supervisor through it); None: nobody listens.
        self.on_beat: Callable[[], None] | None = None
        # ok / transient / full / denied ...: what the threads last met in the store.
        self.health = StoreHealth()
        extra_locks = settings.extra_locks
        if settings.flush_locks or extra_locks:
            flushed = flush_locks(huey.storage, extra_locks)
            if settings.flush_locks and extra_locks:
                flushed |= flush_locks(huey.storage, ())
            if flushed:
                log.info("flushed locks: %s", ", ".join(sorted(flushed)))

    # --- bookkeeping shared by the threads ------------------------------------------
    @property
    def busy(self) -> int:
        return self._busy  # an int kept beside _claimed: read whole, no lock needed

    @property
    def idle(self) -> int:
        return self.workers - self.busy

    @property
    def room(self) -> int:
        """How many tasks to claim now: idle workers plus the prefetch, so a worker
        that finishes finds its next task waiting instead of a round trip. While
        every worker is busy, wait until half the prefetch is free, so claims come
        in batches rather than one per finished task.

        A task that has run and waits for its commit (on the wire with its batch)
        holds no worker: up to a window's worth (workers + prefetch) of those is not
        counted, so the next claim overlaps the commit instead of waiting for it.
        Beyond that they count again: what a slow store has not acknowledged yet is
        bounded (two windows in all)."""
        prefetch = self.prefetch.size()
        window = self.workers + prefetch
        with self._claimed_lock:
            busy = self._busy
            held = self._held if self._held_tracked else busy
        load = held + max(0, busy - held - window)
        room = window - load
        if load >= self.workers and room < max(1, prefetch // 2):
            return 0
        return room

    def _run_one(self, item: Claimed) -> None:
        # The bookkeeping (``_forget``) happens once the outcome is committed, which
        # with several threads is after this returns (the committer batches).
        start = self.timer()
        try:
            self.executor.run(item, done=lambda: self._forget(item))
        except StoreUnavailable as exc:
            # The task stays running in the store; recovery hands it to someone.
            log.error("could not commit task %s: %s", item.id, exc)
        except BaseException:
            # Never lose a worker thread: the task stays running in the store and is
            # handed back (its delivery counted) by the orphan sweep.
            log.exception("unexpected error running task %s", item.id)
        finally:
            if self.prefetch.adaptive:
                self.prefetch.observe(start, self.timer())
            with self._claimed_lock:
                self._held -= 1
            if self._slot_wanted:
                self._slot_free.set()

    def _work(self) -> None:
        while (entry := self._inbox.get()) is not None:
            if isinstance(entry, _Round):
                entry = self._delegated_round(entry.block)
                if entry is None:
                    continue
            gen, item = entry
            if self._stop.is_set():
                self._release_unstarted([item])  # stopping: handed back, not started
                continue
            if gen != self._lease_generation():
                self._release_unstarted([item], lapsed=True)
                self._hand_back_ahead(lapsed=True)
                continue
            self._run_one(item)

    def _delegated_round(self, block: float) -> tuple[int, Claimed] | None:
        """Run the dispatcher's blocking round here, on an idle worker thread, and keep
        the first task it claims to run on this thread: new work then reaches a thread
        that runs it with no handoff (the reply's reader is the runner). The dispatcher
        waits meanwhile (see loop), so rounds never overlap. When the loop would only
        wait again, the next waiting round is passed on to another idle thread
        directly; otherwise the dispatcher takes over again."""
        kept: list[tuple[int, Claimed]] = []
        waits: list[float] = []
        wait: float | None = None
        try:
            if self._guarded(lambda: waits.append(self.step(self.clock(), block, kept))):
                wait = waits[0]
        finally:
            if wait is not None and self._waits_again(wait):
                # Nothing else to do but wait again: the next waiting round goes
                # straight to another idle thread (one thread woken per round, not two).
                self._inbox.put(_Round(wait))
            else:
                self._delegated_wait = wait
                self._delegated.set()
        return kept[0] if kept else None

    def _waits_again(self, wait: float) -> bool:
        """Whether the dispatcher loop, given ``wait`` by a round, would only run the
        next one blocking, on an idle worker thread (see loop)."""
        return (
            wait > 0
            and self.paused is None
            and self.max_tasks is None
            and not self._stop.is_set()
            and self.room > 0
            and self._may_delegate()
        )

    def _take(self) -> Claimed | None:
        """The next claimed task for the asyncio worker's loop (called on the loop when
        it has a free slot), or None when none waits. Tasks claimed before a stop or a
        lease lapse are handed back instead, as thread workers do."""
        while True:
            try:
                entry = self._inbox.get_nowait()
            except queue.Empty:
                return None
            if entry is None or isinstance(entry, _Round):
                return None
            gen, item = entry
            if self._stop.is_set():
                self._release_unstarted([item])
            elif gen != self._lease_generation():
                self._release_unstarted([item], lapsed=True)
                self._hand_back_ahead(lapsed=True)
            else:
                return item

    # --- claimed ahead, not started: handed back -----------------------------------------
    def _lease_generation(self) -> int:
        """The lease generation, bumped when our lease may have lapsed (no renewal for
        longer than the lease): tasks claimed in an earlier one are not started."""
        if time.monotonic() <= self._lease_until:  # the common case, asked per task
            return self._lease_gen
        with self._lease_lock:
            if time.monotonic() > self._lease_until:
                self._lease_gen += 1
                self._lease_until = math.inf  # until the next renewal
                log.warning(
                    "this worker's lease lapsed (paused or cut off for over %.0fs): the tasks"
                    " it had claimed ahead may have run elsewhere, so it does not start them",
                    self.lease,
                )
            return self._lease_gen

    def _lease_renewed(self, since: float) -> None:
        """The lease was renewed by a call begun at ``since`` (monotonic)."""
        with self._lease_lock:
            self._lease_until = since + self.lease

    def _hand_back_ahead(self, lapsed: bool = False) -> None:
        """Hand back, in one release, the tasks waiting for a worker thread: all of
        them, or (``lapsed``) those claimed before the lease lapsed."""
        with self._claimed_lock:  # a process worker's: what its round has not started
            items: list[Claimed] = list(self._ahead)
            self._ahead.clear()
        keep: list[_Entry] = []
        gen = self._lease_generation() if lapsed else None
        while True:
            try:
                entry = self._inbox.get_nowait()
            except queue.Empty:
                break
            if entry is None or isinstance(entry, _Round) or (gen is not None and entry[0] == gen):
                keep.append(entry)
            else:
                items.append(entry[1])
        for entry in keep:
            self._inbox.put(entry)
        self._release_unstarted(items, lapsed)

    def _release_unstarted(self, items: list[Claimed], lapsed: bool = False) -> None:
        """Forget tasks no worker started and put them back on the ready queue, their
        delivery not counted. The store puts back only those still ours (after a lapse,
        recovery may have given them to another consumer)."""
        if not items:
            return
        if self._held_tracked:
            with self._claimed_lock:
                self._held -= len(items)
        for item in items:
            self._forget(item)
        with self._claimed_lock:  # the same id claimed again meanwhile stays ours
            ids = list(dict.fromkeys(i.id for i in items if i.id not in self._claimed))
        if not ids:
            return
        try:
            handed = self.huey.storage.release(self.consumer_id, ids)
        except StoreUnavailable as exc:
            log.error("could not hand back %d unstarted task(s): %s", len(ids), exc)
            return
        if lapsed:
            log.warning(
                "dropped %d task(s) claimed before the lease lapsed (%d still ours, handed back)",
                len(items),
                len(handed),
            )
        elif handed:
            log.info("handed back %d task(s) claimed ahead, not started", len(handed))

    def _forget(self, item: Claimed) -> None:
        with self._claimed_lock:
            self._busy -= 1
            left = self._claimed[item.id] - 1
            if left > 0:
                self._claimed[item.id] = left
            else:
                del self._claimed[item.id]
        if self._slot_wanted:
            self._slot_free.set()

    def _wait_for_slot(self, timeout: float) -> None:
        """Sleep until a task ends or its commit frees room, or ``timeout`` passes.
        Those ends set ``_slot_free`` only while someone waits here (an Event.set per
        task is measurable): the flag is raised before the caller's last look at the
        room, so an end between that look and the wait still wakes it."""
        try:
            self._slot_free.wait(timeout)
        finally:
            self._slot_wanted = False
            self._slot_free.clear()

    # --- heartbeat ----------------------------------------------------------------------
    def beat(self, now: float) -> None:
        """Renew the lease, publish the registry entry and telemetry, sweep when due."""
        storage = self.huey.storage
        since = time.monotonic()
        self._lease_generation()  # a lapse is seen before the renewal hides it
        storage.heartbeat(self.consumer_id, now, self.lease)
        self._lease_renewed(since)
        self.huey.revocations.refresh(storage.peek(REVOKE_VERSION))
        running = self.executor.running()
        try:  # the registry entry and telemetry: refused while the store is full
            storage.map_set(
                WORKERS,
                self.consumer_id,
                registry_record(
                    self.consumer_id,
                    self.started_at,
                    now,
                    self.workers,
                    self.worker_type,
                    running,
                    self.executor.processed,
                    self.executor.failed,
                    self.huey.name,
                    self.store_record,
                    self.health.state,
                    bool(self.huey.envelope.verify_keys),
                    self.catalog_digest,
                ),
            )
            if self._catalog_due <= self._beats:  # after the registry entry: a full
                self._publish_catalog()  # store refuses this one, not the entry
            self.telemetry.flush()
            if self.health.state == "full" or not self._beats:  # telemetry may write nothing
                probe = f"probe:{self.consumer_id}"
                storage.incr(probe, 60.0)  # refused while full
                storage.delete(probe)
        except StoreFull as exc:
            self.health.failed(exc)  # claim nothing new; beats, finishes and sweeps go on
        else:
            self.health.answered(wrote=True)
        self._beats += 1
        if self.huey.in_flight or self._cancelling:
            self.watch_cancels()
        if now >= self._next_recovery:
            self._recover(now)
            self._next_recovery = now + self.recovery_interval
        if self._beats % 15 == 0:
            self._hand_back_orphans(now)

    def _publish_catalog(self) -> None:
        """The tasks this consumer serves (shared by workers of the same app), and the
        queue's name in the store's list of queues: at start, then about once a minute
        (a sibling that stopped may have dropped the shared entry meanwhile)."""
        storage = self.huey.storage
        storage.map_set(CATALOG, self.catalog_digest, self._catalog)
        storage.announce_once()  # an ACL without the list refuses it: nothing more
        self._catalog_due = self._beats + CATALOG_BEATS

    def _recover(self, now: float) -> None:
        storage = self.huey.storage
        report = storage.recover(now, self.max_deliveries)
        # Registry entries of consumers that died without deregistering age out, and
        # with the last of them the catalog they named.
        kept: set[str] = set()
        dropped: set[str] = set()
        for consumer, data in storage.map_items(WORKERS).items():
            try:
                rec: RegistryRecord = json.loads(data)
                beat = float(rec.get("heartbeat", 0))
                digest = str(rec.get("catalog", ""))
            except (ValueError, TypeError, AttributeError, RecursionError):
                log.warning("dropping unreadable registry entry %r", consumer)
                beat, digest = 0.0, ""
            if beat < now - max(3 * self.lease, 30.0):
                storage.map_delete(WORKERS, consumer, data)
                dropped.add(digest)
            else:
                kept.add(digest)
        for digest in dropped - kept - {""}:
            storage.map_delete(CATALOG, digest)
        for task_id, data in storage.map_items(CANCELS).items():
            try:
                at = float(json.loads(data).get("at", 0))
            except (ValueError, TypeError, AttributeError, RecursionError):
                at = 0.0
            if at < now - CANCEL_STALE:  # its call ended before anyone acted on it
                storage.map_delete(CANCELS, task_id, data)
        if report.requeued or report.dead:
            log.warning(
                "recovered tasks of lapsed consumers: %d requeued, %d dead-lettered (poison)",
                len(report.requeued),
                len(report.dead),
            )

    def _hand_back_orphans(self, now: float) -> None:
        storage = self.huey.storage
        with self._claimed_lock:
            known = set(self._claimed)
        orphans = [
            r.id
            for r in storage.running_items()
            if r.consumer == self.consumer_id
            and r.id not in known
            and now - r.claimed_at > ORPHAN_GRACE
        ]
        if orphans:
            log.warning("handing back %d task(s) claimed but never received", len(orphans))
            storage.release(self.consumer_id, orphans, count=True)

    def _heartbeat_loop(self) -> None:
        # Beats go on while stopping (running tasks keep their lease and can commit)
        # until shutdown has handed back what is left. Between beats, while tasks run,
        # the cancel requests are read every CANCEL_POLL seconds.
        next_beat = time.monotonic() + self.heartbeat_interval
        while not self._released.wait(min(CANCEL_POLL, self.heartbeat_interval)):
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat_interval
                self._guarded(lambda: self.beat(self.clock()))
                self._pulse()
            elif self.huey.in_flight or self._cancelling:
                self._guarded(self.watch_cancels)

    def _pulse(self) -> None:
        """A heartbeat was attempted (the store may have failed it: readiness says so)."""
        self.last_beat = time.monotonic()
        if self.on_beat is not None:
            self.on_beat()

    # --- cancel ---------------------------------------------------------------------------
    def watch_cancels(self) -> None:
        """Read the cancel requests (one map read) and stop the calls of ours they name:
        flag them (the task sees it at its next check or engine call); in an asyncio
        worker, cancel the coroutine (:meth:`AsyncRunner.cancel`); in a process
        worker, interrupt the main thread (the supervisor kills a process whose call has
        not stopped after ``cancel_grace``). A request whose call has ended is dropped."""
        storage = self.huey.storage
        requests = storage.map_items(CANCELS)
        for task_id in list(self._cancelling):
            if task_id not in self.huey.in_flight:
                self._cancelling.discard(task_id)
                if task_id in requests:
                    storage.map_delete(CANCELS, task_id, requests[task_id])
        for task_id, data in requests.items():
            task = self.huey.in_flight.get(task_id)
            if task is None or task.cancelled:
                continue
            try:
                who = str(json.loads(data).get("who", ""))
            except (ValueError, AttributeError, RecursionError):
                who = ""
            task.cancelled_by, task.cancelled = who, True
            self._cancelling.add(task_id)
            log.warning(
                "task %s %s cancelled by %s: stopping it",
                task.registered_name,
                task_id,
                who or "?",
            )
            if self.runner is not None:  # -k asyncio: CancelledError at its await
                self.runner.cancel(task_id)
            elif self.inline:
                self._interrupt(task)

    def _interrupt(self, task: Task) -> None:
        """Process workers: raise TaskCancelled in the main thread, running the task
        (SIGUSR1, handled by :meth:`_on_interrupt`). A task that does not stop (stuck
        in code that never returns to Python) is killed by the supervisor after
        ``cancel_grace`` (engine.supervisor)."""
        main = threading.main_thread().ident
        # Only with our handler installed (run() does): SIGUSR1's default ends the process.
        if main is not None and signal.getsignal(signal.SIGUSR1) == self._on_interrupt:
            signal.pthread_kill(main, signal.SIGUSR1)

    @staticmethod
    def _on_interrupt(signum: int, frame: Any) -> None:
        task = cancellation.current()
        if task is not None and task.cancelled:
            raise TaskCancelled(cancellation.cancelled_message(task))

    # --- pause ----------------------------------------------------------------------------
    def _see_pauses(self, pauses: dict[str, bytes], now: float) -> None:
        """Take in the pause map a round returned: log what changed, hand back what was
        claimed ahead when the queue pauses, and resume the task names whose pause has
        lapsed (their parked calls go back to the queue)."""
        if not pauses and self.paused is None and not self._task_pauses:
            return  # the common case: nothing paused, nor was it
        queue_rec = pauses.get(QUEUE_PAUSED)
        held = pause_in_force(queue_rec, now)
        if held and self.paused is None:
            self.paused = _pause_info(queue_rec)
            log.warning("queue %s paused%s: claiming nothing", self.huey.name, _by(self.paused))
            self._hand_back_ahead()
        elif not held and self.paused is not None:
            self.paused = None
            log.warning("queue %s resumed: claiming again", self.huey.name)
        if queue_rec is not None and not held:
            self.huey.storage.map_delete(PAUSES, QUEUE_PAUSED, queue_rec)  # lapsed
        names = {}
        for name, rec in pauses.items():
            if name == QUEUE_PAUSED:
                continue
            if pause_in_force(rec, now):
                names[name] = rec
                if name not in self._task_pauses:
                    log.warning("task %s paused%s", name, _by(_pause_info(rec)))
                continue
            moved = self.huey.storage.unpark(name, PAUSES, rec)
            if moved is not None:
                log.warning("pause of task %s lapsed: %d call(s) back on the queue", name, moved)
        for name in set(self._task_pauses) - set(names):
            log.warning("task %s resumed", name)
        self._task_pauses = names

    def _park(self, claimed: list[Claimed]) -> list[Claimed]:
        """Set aside the claimed calls of paused task names (one store step per name);
        return the rest. A call that cannot be decoded is left to the executor."""
        keep: list[Claimed] = []
        paused: dict[str, list[str]] = {}
        for item in claimed:
            try:
                name = self.huey.envelope.decode(item.data, item.id).registered_name
            except CodecError:
                name = ""
            if name in self._task_pauses:
                paused.setdefault(name, []).append(item.id)
            else:
                keep.append(item)
        for name, ids in paused.items():
            parked = self.huey.storage.park(self.consumer_id, name, ids, PAUSES)
            if parked:
                log.info("parked %d call(s) of paused task %s", len(parked), name)
        return keep

    def _guarded(self, fn: Callable[[], Any]) -> bool:
        """Run fn; False if it raised. No error ends a loop: each is noted in ``health``,
        which logs once per change of state (the call that succeeds next says so)."""
        try:
            fn()
        except Exception as exc:
            self.health.failed(exc)
            return False
        return True

    # --- one dispatcher round -------------------------------------------------------------
    def step(
        self, now: float, block: float = 0.0, keep: list[tuple[int, Claimed]] | None = None
    ) -> float:
        """One round; returns how long the loop may wait before the next. With
        ``block``, the round first waits up to that long for new work (the store
        wakes it early), and what follows is reckoned from the clock after it.
        With ``keep`` (a worker thread's round, see loop), the first task claimed is
        put there for the caller to run rather than on the workers' inbox."""
        self.last_round = time.monotonic()
        self._round_block = block
        if self._heart is None and now >= self._next_heartbeat:
            self.beat(now)
            self._next_heartbeat = now + self.heartbeat_interval
        wait = self.scheduler.periodic_step(now)  # no store access but once a minute
        if self.health.state == "full":
            # Claim no new work while the store refuses writes; the heartbeat probes it.
            return min(wait, self.health.pause())
        free = self.room
        if self.max_tasks is not None:
            free = min(free, self.max_tasks - self._claimed_total)
        if free <= 0:
            return min(wait, 0.05)
        # One round trip: promote due scheduled tasks, claim, read the revocation
        # version and the next eta.
        storage = self.huey.storage
        gen = self._lease_generation()
        if block > 0:
            rnd = storage.wait_and_claim_round(
                block, self.consumer_id, now, free, self.lease, REVOKE_VERSION, PAUSES
            )
            after = self.clock()
            wait -= after - now
            now = after
        else:
            rnd = storage.claim_round(
                self.consumer_id, now, free, self.lease, REVOKE_VERSION, PAUSES
            )
        self.health.answered()
        self._see_pauses(rnd.pauses, now)
        claimed = rnd.claimed
        if claimed and self._task_pauses:
            claimed = self._park(claimed)
        self._claimed_total += len(claimed)
        with self._claimed_lock:
            self._claimed.update(item.id for item in claimed)
            self._busy += len(claimed)
            if self._held_tracked:
                self._held += len(claimed)
        # Revocations are checked against a local table, reloaded only when it changed.
        self.huey.revocations.refresh(rnd.watched)
        ahead = self._ahead = collections.deque(claimed if self.inline else ())
        for item in claimed:
            if not self.inline:
                if keep is not None and not keep:
                    keep.append((gen, item))
                else:
                    self._inbox.put((gen, item))
                continue
            with self._claimed_lock:  # a signal's hand-back may have taken the rest
                if not ahead:
                    break
                ahead.popleft()
            if self._stop.is_set() or gen != self._lease_generation():
                # Stopping, or our lease lapsed: the rest are handed back, not started.
                with self._claimed_lock:
                    rest = [item, *ahead]
                    ahead.clear()
                self._release_unstarted(rest, lapsed=not self._stop.is_set())
                break
            self._run_one(item)
        if claimed and self.runner is not None:
            self.runner.wake()  # the loop takes them while it has free slots
        elif claimed and not self.inline and keep is None and len(claimed) >= self.busy:
            # The workers were idle: let one take the GIL and start at once, rather
            # than when this thread next blocks. (Busy workers take the GIL anyway.)
            time.sleep(0)
        if self.paused is not None:
            return min(wait, PAUSE_POLL)  # claiming nothing: look again soon
        if len(rnd.claimed) == free or rnd.more:
            return 0.0  # there is more: claim again at once (room permitting)
        if rnd.next_eta is not None:
            wait = min(wait, rnd.next_eta - now)
        if self._heart is None:
            wait = min(wait, self._next_heartbeat - now)
        return max(0.0, wait)

    def _done(self) -> bool:
        return (
            self.max_tasks is not None and self._claimed_total >= self.max_tasks and self.busy == 0
        )

    def liveness(self, grace: float | None = None) -> str | None:
        """Why this consumer is not alive, in one line; None when it is: its heartbeat
        thread ran within the lease (``grace`` seconds) and its dispatcher began a round
        within that too (beyond the wait in the store it asked for). Whether the store
        answers is readiness, not liveness (a restart would not bring it back). A
        process worker's dispatcher runs its task, so only its heartbeat is judged."""
        grace = self.lease if grace is None else grace
        now = time.monotonic()
        if self._stop.is_set():
            return "stopping"
        if now - self.last_beat > grace:
            return f"the heartbeat has not run for {now - self.last_beat:.0f}s"
        if not self.inline and now - self.last_round > self._round_block + grace:
            return f"the dispatcher loop has not run for {now - self.last_round:.0f}s"
        return None

    # --- running ----------------------------------------------------------------------------
    def start(self) -> None:
        self.huey.run_hooks("startup")
        self.telemetry.attach()
        # Outcomes are committed in the background, batched, while the next task runs.
        self.executor.committer = Committer(lambda: self.huey.storage, self.consumer_id, self.lease)
        if self.runner is not None:
            self.runner.start()
        elif not self.inline:
            for i in range(self.workers):
                t = threading.Thread(target=self._work, name=f"worker-{i + 1}", daemon=True)
                t.start()
                self._threads.append(t)
        self._guarded(lambda: self.beat(self.clock()))
        self._heart = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._heart.start()

    def loop(self) -> None:
        """Run until stop() is called (or ``max_tasks`` were run).

        A round that waits for new work (``block``) runs on an idle worker thread
        when there is one (thread workers): that thread reads the claim and runs the
        first task itself, so a task that lands on an idle consumer starts with no
        thread handoff. This thread waits meanwhile (the waiting rounds pass from
        idle thread to idle thread until one has something else to do: a drain, a
        pause, a full store, a stop), so the dispatcher's state has one writer at a
        time, as before."""
        block = 0.0  # the next round first waits this long for new work (woken early)
        while not self._stop.is_set() and not self._done():
            if block > 0 and self._may_delegate():
                self._delegated.clear()
                self._inbox.put(_Round(block))
                self._delegated.wait()
                wait = self._delegated_wait
            else:
                wait = self._step_now(block)
            block = 0.0
            if wait is None:  # the store failed us: probe again after a pause (by state)
                self._stop.wait(self.health.pause())
                continue
            if wait <= 0:
                continue
            if self.paused is not None:
                # Paused: new work must not wake us (it would be a round for nothing).
                self._stop.wait(wait)
                continue
            self._slot_wanted = True
            if self.room <= 0:
                # Every worker is busy and enough is queued: sleep until one finishes.
                self._wait_for_slot(min(wait, 0.5))
                continue
            self._slot_wanted = False
            # Nothing to do until new work arrives or ``wait`` passes: the next round
            # waits in the store first, so new work is claimed the moment it lands.
            block = wait

    def _may_delegate(self) -> bool:
        """Whether a worker thread is idle to run the blocking round (thread workers):
        none is claimed and waiting for one, and fewer than all are running."""
        if not self._threads:  # (started for thread workers only)
            return False
        with self._claimed_lock:
            return self._held < self.workers and self._inbox.empty()

    def _step_now(self, block: float) -> float | None:
        """``step`` at the current time; None while the store is unreachable."""
        waits: list[float] = []
        ok = self._guarded(lambda: waits.append(self.step(self.clock(), block)))
        return waits[0] if ok else None

    def run(self) -> None:
        """Start workers and heartbeat, install signal handlers, loop, shut down cleanly."""
        self._install_signals()
        self.start()
        try:
            self.loop()
        finally:
            self.shutdown()

    def stop(self, graceful: bool = True) -> None:
        if self._stop.is_set() or not graceful:
            self._hurry.set()
        self._stop.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum: int, frame: Any) -> None:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                self.restart = True
            log.info(
                "received %s: %s",
                name,
                "stopping now" if self._stop.is_set() else "finishing running tasks, then stopping",
            )
            self.stop()
            self._slot_free.set()  # wake the dispatcher
            # Hand back what was claimed ahead, now, off this frame (which may hold locks).
            back = threading.Thread(target=self._hand_back_ahead, name="hand-back")
            back.daemon = True
            back.start()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            if sig != signal.SIGINT or self.handle_sigint:
                signal.signal(sig, handler)
        if self.inline:  # a cancelled call is interrupted (see _interrupt)
            signal.signal(signal.SIGUSR1, self._on_interrupt)

    def _drop_catalog(self) -> None:
        """Delete the catalog entry unless another registered consumer names it (one
        starting this instant may lose it for a minute: it republishes)."""
        storage = self.huey.storage
        for data in storage.map_items(WORKERS).values():
            if f'"catalog":"{self.catalog_digest}"'.encode() in data:
                return
        storage.map_delete(CATALOG, self.catalog_digest)

    def shutdown(self) -> None:
        """Let running tasks finish (up to shutdown_timeout), hand back the rest, deregister."""
        self._stop.set()
        self._hand_back_ahead()  # claimed ahead, not started: back to ready at once
        for _ in self._threads:
            self._inbox.put(None)
        deadline = (
            None if self.shutdown_timeout is None else time.monotonic() + self.shutdown_timeout
        )
        while not self._hurry.is_set():
            self._slot_wanted = True
            if not self.busy or (deadline is not None and time.monotonic() >= deadline):
                self._slot_wanted = False
                break
            self._wait_for_slot(0.05)
        storage = self.huey.storage
        try:
            handed = storage.release(self.consumer_id)
            if handed:
                more = f" and {len(handed) - 5} more" if len(handed) > 5 else ""
                log.warning(
                    "handed back %d unfinished task(s): %s%s",
                    len(handed),
                    ", ".join(handed[:5]),
                    more,
                )
            self.huey.notify_interrupted_tasks()  # the calls handed back while running
            self.telemetry.flush()
            storage.map_delete(WORKERS, self.consumer_id)
            self._drop_catalog()
        except StoreUnavailable as exc:
            log.error("could not hand back tasks (they will be recovered): %s", exc)
        finally:
            self._released.set()
        self.telemetry.detach()
        if self.runner is not None:
            self.runner.close()
        if self.executor.committer is not None:
            self.executor.committer.close()
        self.huey.run_hooks("shutdown")


def _pause_info(record: bytes | None) -> dict[str, Any]:
    """A pause record as a dict (who, at, until), whatever it holds."""
    try:
        info = json.loads(record or b"{}")
    except (ValueError, RecursionError):
        info = None
    if not isinstance(info, dict):
        info = {}
    until = pause_until(record)
    info["until"] = None if until is None or until == math.inf else until
    return info


def _by(info: dict[str, Any]) -> str:
    """`` by ops@box at 12:00:03 until 12:30:03`` for the worker log."""
    parts = []
    if info.get("who"):
        parts.append(f"by {info['who']}")
    for key in ("at", "until"):
        if isinstance(info.get(key), (int, float)):
            parts.append(f"{key} {time.strftime('%H:%M:%S', time.localtime(info[key]))}")
    return " " + " ".join(parts) if parts else ""
