"""In-process storage for tests and immediate mode: one lock makes every step atomic."""

from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..exceptions import ConfigurationError
from .base import (
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


@dataclass(slots=True)
class _Entry:
    msg: Message
    state: str  # ready | scheduled | running | dead | parked (reason: the task name)
    eta: float | None = None
    consumer: str | None = None
    claimed_at: float = 0.0
    deliveries: int = 0
    reason: str | None = None
    error: str | None = None
    failed_at: float = 0.0
    order: int = 0  # place in the ready queue within its priority (see ORDER in base.py)


def _ready_key(entry: _Entry) -> tuple[int, int, str]:
    return (-entry.msg.priority, entry.order, entry.msg.id)


def _handing_back(entries: list[_Entry]) -> list[_Entry]:
    """Tasks handed back at once, in the order that leaves them at the front of their
    priority in id order: each goes to the front, so the last one put back comes first."""
    return sorted(entries, key=lambda e: e.msg.id, reverse=True)


class MemoryStorage(Storage):
    reads_block = False  # a dict behind a lock: await_result looks on the loop's thread

    def __init__(self, name: str = "hueyctl", **kwargs: object) -> None:
        super().__init__(name, **kwargs)  # type: ignore[arg-type]
        self._lock = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._ready: list[tuple[int, int, str]] = []  # sorted claim order
        self._back = self._front = 0  # the last places given at the back and the front
        self._leases: dict[str, float] = {}
        self._kv: dict[str, tuple[bytes, float | None]] = {}
        self._maps: dict[str, dict[str, bytes]] = {}
        self._parked: dict[str, list[str]] = {}  # task name -> ids parked, in order
        self._events: collections.deque[tuple[int, bytes]] = collections.deque()
        self._event_seq = 0
        self._stats: dict[tuple[int, str], StatRow] = {}
        # Finished records in the order their ids first finished (as Redis keeps them).
        self._finished: collections.OrderedDict[str, bytes] = collections.OrderedDict()

    # --- helpers (caller holds the lock) -----------------------------------
    def _add_ready(self, msg: Message, deliveries: int = 0, front: bool = False) -> None:
        """Put a task at the back of its priority (or the front: a task handed back)."""
        self._drop(msg.id)
        if front:
            self._front -= 1
        else:
            self._back += 1
        entry = _Entry(msg, "ready", deliveries=deliveries)
        entry.order = self._front if front else self._back
        self._entries[msg.id] = entry
        bisect.insort(self._ready, _ready_key(entry))
        self._lock.notify_all()

    def _drop(self, task_id: str) -> _Entry | None:
        entry = self._entries.pop(task_id, None)
        if entry is not None and entry.state == "ready":
            key = _ready_key(entry)
            i = bisect.bisect_left(self._ready, key)
            if i < len(self._ready) and self._ready[i] == key:
                del self._ready[i]
        return entry

    def _to_dead(self, entry: _Entry, reason: str, error: str, now: float) -> None:
        entry.state, entry.reason, entry.error, entry.failed_at = "dead", reason, error, now
        entry.consumer = None
        dead = sorted((e.failed_at, e.msg.id) for e in self._entries.values() if e.state == "dead")
        for _, task_id in dead[: max(0, len(dead) - self.dead_cap)]:
            self._entries.pop(task_id, None)
        del dead[: max(0, len(dead) - self.dead_cap)]
        if self.dead_cap_bytes > 0:  # then by bytes, oldest first; the newest stays
            total = sum(len(self._entries[i].msg.data) for _, i in dead)
            for _, task_id in dead[:-1]:
                if total <= self.dead_cap_bytes:
                    break
                total -= len(self._entries.pop(task_id).msg.data)

    def _by_state(self, state: str) -> list[_Entry]:
        return [e for e in self._entries.values() if e.state == state]

    # --- queue ----------------------------------------------------------------
    def _refuse_running(self, ids: Iterable[str]) -> None:
        for task_id in ids:
            entry = self._entries.get(task_id)
            if entry is not None and entry.state == "running":
                raise ConfigurationError(refusal_running(task_id))

    def enqueue(self, messages: Sequence[Message]) -> None:
        with self._lock:
            self._refuse_running(m.id for m in messages)
            for msg in messages:
                self._add_ready(msg)

    def enqueue_unique(self, key: str, ttl: float, message: Message) -> bool:
        with self._lock:
            if self._get(key) is not None:
                return False
            self._put(key, b"1", ttl)
            self._add_ready(message)
            return True

    def schedule(self, items: Sequence[tuple[Message, float]]) -> None:
        with self._lock:
            self._refuse_running(m.id for m, _ in items)
            for msg, eta in items:
                self._drop(msg.id)
                self._entries[msg.id] = _Entry(msg, "scheduled", eta=eta)
            self._lock.notify_all()

    def promote(self, now: float, limit: int = PROMOTE_BATCH) -> list[str]:
        with self._lock:
            due = sorted(
                (e.eta, e.msg.id) for e in self._by_state("scheduled") if (e.eta or 0) <= now
            )[:limit]
            for _, task_id in due:
                self._add_ready(self._entries[task_id].msg)
            return [task_id for _, task_id in due]

    def next_eta(self) -> float | None:
        with self._lock:
            etas = [e.eta for e in self._by_state("scheduled") if e.eta is not None]
            return min(etas) if etas else None

    def claim(self, consumer: str, now: float, limit: int, lease: float) -> list[Claimed]:
        with self._lock:  # a claim renews the lease, never moves it back
            self._leases[consumer] = max(self._leases.get(consumer, 0.0), now + lease)
            n = 0
            for *_, task_id in self._ready[: max(0, limit)]:
                if self._entries[task_id].deliveries:  # redelivered: alone, or not now
                    n = n or 1
                    break
                n += 1
            taken, self._ready = self._ready[:n], self._ready[n:]
            out = []
            for *_, task_id in taken:
                entry = self._entries[task_id]
                entry.state, entry.consumer, entry.claimed_at = "running", consumer, now
                entry.deliveries += 1
                out.append(Claimed(task_id, entry.msg.data, entry.deliveries))
            return out

    def finish(self, consumer: str, task_id: str, now: float, outcome: Outcome) -> str | None:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.state != "running":
                return NOT_RUNNING
            if entry.consumer != consumer:
                return NOT_OWNER
            if self._leases.get(consumer, 0.0) < now:
                return LEASE_LOST
            if outcome.dead is not None:
                if outcome.dead_data is not None:
                    entry.msg = Message(task_id, outcome.dead_data, entry.msg.priority)
                self._to_dead(entry, *outcome.dead, now)
            else:
                self._drop(task_id)
                if outcome.finished is not None:
                    self._keep_finished(task_id, outcome.finished)
            for key, value in outcome.results:
                self._put(key, value, outcome.result_ttl)
            for msg in outcome.enqueue:
                self._add_ready(msg)
            for msg, eta in outcome.schedule:
                self._drop(msg.id)
                self._entries[msg.id] = _Entry(msg, "scheduled", eta=eta)
            self._lock.notify_all()
            return None

    def _keep_finished(self, task_id: str, record: bytes) -> None:
        done = self._finished
        done[task_id] = record
        if len(done) >= 2 * self.finished_cap:  # as Redis: keep the newest cap (and more)
            while len(done) > self.finished_cap:
                done.popitem(last=False)

    def finished(self, task_id: str) -> bytes | None:
        with self._lock:
            return self._finished.get(task_id)

    def heartbeat(self, consumer: str, now: float, lease: float) -> None:
        with self._lock:
            self._leases[consumer] = now + lease

    def recover(self, now: float, max_deliveries: int) -> Recovered:
        report = Recovered()
        with self._lock:
            for entry in _handing_back(self._by_state("running")):
                if self._leases.get(entry.consumer or "", 0.0) >= now:
                    continue
                if entry.deliveries >= max_deliveries:
                    error = f"delivered {entry.deliveries} times without finishing"
                    self._to_dead(entry, "poison", error, now)
                    report.dead.append(entry.msg.id)
                else:
                    self._add_ready(entry.msg, entry.deliveries, front=True)
                    report.requeued.append(entry.msg.id)
            for consumer, until in list(self._leases.items()):
                if until < now:
                    del self._leases[consumer]
        return report

    def release(
        self, consumer: str, task_ids: Iterable[str] | None = None, count: bool = False
    ) -> list[str]:
        wanted = None if task_ids is None else set(task_ids)
        with self._lock:
            out = []
            for entry in _handing_back(self._by_state("running")):
                if entry.consumer == consumer and (wanted is None or entry.msg.id in wanted):
                    kept = entry.deliveries if count else max(0, entry.deliveries - 1)
                    self._add_ready(entry.msg, kept, front=True)
                    out.append(entry.msg.id)
            if wanted is None:
                self._leases.pop(consumer, None)
            return out

    def park(self, consumer: str, name: str, task_ids: Sequence[str], pauses: str) -> list[str]:
        with self._lock:
            mine = [
                e
                for i in dict.fromkeys(task_ids)
                if (e := self._entries.get(i)) is not None
                and e.state == "running"
                and e.consumer == consumer
            ]
            if name not in self._maps.get(pauses, {}):
                for entry in _handing_back(mine):
                    self._add_ready(entry.msg, max(0, entry.deliveries - 1), front=True)
                return []
            line = self._parked.setdefault(name, [])
            for entry in mine:
                entry.state, entry.reason, entry.consumer = "parked", name, None
                entry.deliveries = max(0, entry.deliveries - 1)
                line.append(entry.msg.id)
            return [e.msg.id for e in mine]

    def unpark(self, name: str, pauses: str, record: bytes | None = None) -> int | None:
        with self._lock:
            fields = self._maps.get(pauses, {})
            if record is not None and fields.get(name) != record:
                return None
            fields.pop(name, None)
            moved = 0
            for task_id in self._parked.pop(name, []):
                entry = self._entries.get(task_id)
                if entry is not None and entry.state == "parked" and entry.reason == name:
                    self._add_ready(entry.msg, entry.deliveries)
                    moved += 1
            return moved

    def parked(self, name: str) -> int:
        with self._lock:
            return sum(
                (e := self._entries.get(i)) is not None and e.state == "parked" and e.reason == name
                for i in self._parked.get(name, [])
            )

    def wait(self, timeout: float) -> None:
        with self._lock:
            if not self._ready:
                self._lock.wait(timeout)

    # --- inspection -----------------------------------------------------------
    def counts(self) -> Counts:
        with self._lock:
            states = [e.state for e in self._entries.values()]
            return Counts(
                ready=states.count("ready"),
                scheduled=states.count("scheduled"),
                running=states.count("running"),
                dead=states.count("dead"),
            )

    def ready_items(self, offset: int = 0, limit: int = 100) -> list[Message]:
        with self._lock:
            return [self._entries[i].msg for *_, i in self._ready[offset : offset + limit]]

    def scheduled_items(self, offset: int = 0, limit: int = 100) -> list[tuple[Message, float]]:
        with self._lock:
            items = sorted(((e.eta or 0.0, e.msg.id), e.msg) for e in self._by_state("scheduled"))
            return [(msg, key[0]) for key, msg in items[offset : offset + limit]]

    def running_items(self) -> list[Running]:
        with self._lock:
            return [
                Running(e.msg.id, e.msg.data, e.consumer or "", e.claimed_at, e.deliveries)
                for e in sorted(self._by_state("running"), key=lambda e: e.claimed_at)
            ]

    def dead_items(self, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            dead = sorted(self._by_state("dead"), key=lambda e: (-e.failed_at, e.msg.id))
            return [
                DeadLetter(e.msg.id, e.msg.data, e.reason or "", e.error or "", e.failed_at)
                for e in dead[offset : offset + limit]
            ]

    def ids_ending(self, suffix: str, limit: int = 20) -> list[str]:
        with self._lock:
            ids = {i for i in self._entries if i.endswith(suffix)}
            ids.update(i for i in self._finished if i.endswith(suffix))
            return sorted(ids)[:limit]

    def locate(self, task_id: str) -> Located | None:
        with self._lock:
            e = self._entries.get(task_id)
            if e is None:
                return None
            since = {"running": e.claimed_at, "dead": e.failed_at}.get(e.state)
            return Located(
                task_id,
                e.msg.data,
                e.state,
                e.msg.priority,
                e.eta,
                e.consumer,
                e.deliveries,
                e.reason,
                e.error,
                since,
            )

    def remove(self, task_id: str) -> bool:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.state == "running":
                return False
            self._drop(task_id)
            return True

    def retry_dead(self, task_id: str) -> bool:
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry.state != "dead":
                return False
            self._add_ready(entry.msg)
            return True

    def flush(self, state: str) -> int:
        if state not in ("ready", "scheduled", "dead"):
            raise ConfigurationError(f"cannot flush {state!r}: use ready, scheduled or dead")
        with self._lock:
            ids = [e.msg.id for e in self._by_state(state)]
            for task_id in ids:
                self._drop(task_id)
            return len(ids)

    def consumers(self, now: float) -> dict[str, float]:
        with self._lock:
            return dict(self._leases)

    # --- events and statistics -------------------------------------------------------
    def record(
        self,
        events: Sequence[bytes],
        stats: Sequence[StatRow],
        cap: int = EVENT_CAP,
        ttl: float = STATS_TTL,
    ) -> None:
        with self._lock:
            for data in events:
                self._event_seq += 1
                self._events.append((self._event_seq, data))
            while len(self._events) > cap:
                self._events.popleft()
            for row in stats:
                old = self._stats.get((row.minute, row.task), StatRow(row.minute, row.task))
                self._stats[(row.minute, row.task)] = StatRow(
                    row.minute,
                    row.task,
                    old.count + row.count,
                    old.failures + row.failures,
                    old.total + row.total,
                    max(old.max, row.max),
                )
            horizon = time.time() - ttl
            for key in [k for k in self._stats if k[0] < horizon]:
                del self._stats[key]

    def read_events(self, after: str | None = None, limit: int = 100) -> list[tuple[str, bytes]]:
        with self._lock:
            if after is None:
                items = list(self._events)[-limit:]
            else:
                items = [e for e in self._events if e[0] > int(after)][:limit]
            return [(str(seq), data) for seq, data in items]

    def read_stats(self, since_minute: int) -> list[StatRow]:
        with self._lock:
            return sorted(
                (r for (m, _), r in self._stats.items() if m >= since_minute),
                key=lambda r: (r.minute, r.task),
            )

    # --- key/value ---------------------------------------------------------------
    def _get(self, key: str) -> bytes | None:
        item = self._kv.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.time():
            del self._kv[key]
            return None
        return item[0]

    def _put(self, key: str, value: bytes, ttl: float | None) -> None:
        self._kv[key] = (value, None if ttl is None else time.time() + ttl)

    def put(self, key: str, value: bytes, ttl: float | None = None) -> None:
        with self._lock:
            self._put(key, value, ttl)

    def put_if_empty(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        with self._lock:
            if self._get(key) is not None:
                return False
            self._put(key, value, ttl)
            return True

    def peek(self, key: str) -> bytes | None:
        with self._lock:
            return self._get(key)

    def pop(self, key: str) -> bytes | None:
        with self._lock:
            value = self._get(key)
            self._kv.pop(key, None)
            return value

    def delete(self, key: str) -> bool:
        with self._lock:
            found = self._get(key) is not None
            self._kv.pop(key, None)
            return found

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        with self._lock:
            if self._get(key) != value:
                return False
            del self._kv[key]
            return True

    def incr(self, key: str, ttl: float) -> int:
        with self._lock:
            current = self._get(key)
            if current is None:
                self._put(key, b"1", ttl)
                return 1
            value = int(current) + 1
            self._kv[key] = (str(value).encode(), self._kv[key][1])
            return value

    def keys(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(
                k for k in list(self._kv) if k.startswith(prefix) and self._get(k) is not None
            )

    def map_set(self, name: str, field: str, value: bytes) -> None:
        with self._lock:
            self._maps.setdefault(name, {})[field] = value

    def map_get(self, name: str, field: str) -> bytes | None:
        with self._lock:
            return self._maps.get(name, {}).get(field)

    def map_delete(self, name: str, field: str, value: bytes | None = None) -> bool:
        with self._lock:
            entries = self._maps.get(name, {})
            if field not in entries or (value is not None and entries[field] != value):
                return False
            del entries[field]
            return True

    def map_items(self, name: str) -> dict[str, bytes]:
        with self._lock:
            return dict(self._maps.get(name, {}))

    def queue_names(self, budget: int = SCAN_BUDGET) -> tuple[list[str], bool] | None:
        return [self.name], True  # a memory store holds its own queue, no other

    def destroy(self) -> None:
        super().destroy()
        with self._lock:
            self._maps.clear()
            self._events.clear()
            self._stats.clear()
            self._leases.clear()
            self._entries.clear()
            self._ready.clear()
            self._finished.clear()

    def describe(self) -> str:
        return f"memory://{self.name}"
