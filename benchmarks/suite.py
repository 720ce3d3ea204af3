"""Benchmark suite: our engine against huey 3.5.x, interleaved, on one private Redis.

    python -m benchmarks.suite            # the full suite (bash benchmarks/run.sh sets it up)
    python -m benchmarks.suite --smoke    # tiny sizes, one repeat (CI)

Every figure is measured ``--repeats`` times; within a repeat each workload runs
once per engine back to back (ours and huey alternate who goes first), so the
ratio ours/huey of each repeat compares two runs made under the same load.
The table gives the median and the min–max over repeats, of each figure and of
the per-repeat ratios. Targets are reported (met / not met), never asserted.

Engines (columns):

* ``ours``: ``engine.RedisHuey`` on the run's Redis server;
* ``huey``: huey's ``RedisHuey`` on the same server (skipped when huey is not
  installed); W5 also runs huey with ``notify_result=True``;
* ``sqlite``: ``engine.SqliteHuey`` on a file in the run's temp dir; its W6 is
  also set against huey's ``SqliteHuey`` (row W6s, when huey is installed);
* ``raw``: plain redis-py on the same server (LPUSH/RPOP, pipelined where it
  says so): how fast the store itself goes, the ceiling for any queue on it.

Consumers run as real subprocesses (``python -m hueyctl worker`` and
``huey_consumer``). Drains (W2) are timed from outside: from the first moment
the queue is seen shorter than N (first claim) to the first moment everything
is seen finished (ours: nothing ready or running, every result is written in
the same atomic step as the acknowledgement; huey: queue empty and N results).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("ours", "huey", "huey_notify", "sqlite", "raw")
NAN = float("nan")


# --- configuration ---
@dataclass
class Config:
    n: int = 20_000  # W1, W1b, W2, W6
    n_latency: int = 1_000  # W3, W5
    n_sched: int = 200  # W4
    delay_min: float = 1.0  # W4 delays are spread evenly over [delay_min, delay_max]
    delay_max: float = 2.0
    gap: float = 0.005  # W3: pause after each enqueue, so the consumer is idle again
    repeats: int = 3
    # Time caps keep the whole suite under 15 minutes whatever the engines do: a drain
    # (W2) or a round-trip loop (W5) still running after this many seconds stops there
    # and its rate is taken over what finished by then (the table notes every capped run).
    drain_cap: float = 15.0
    call_cap: float = 15.0
    stop_timeout: float = 20.0  # SIGTERM, then SIGKILL after this long (noted)
    workloads: tuple[str, ...] = ("W1", "W1b", "W2", "W3", "W4", "W5", "W6")
    engines: tuple[str, ...] = ENGINES
    smoke: bool = False


SMOKE = Config(
    n=200,
    n_latency=40,
    n_sched=20,
    delay_min=0.2,
    delay_max=0.4,
    repeats=1,
    drain_cap=10.0,
    call_cap=5.0,
    stop_timeout=8.0,
    smoke=True,
)


def huey_installed() -> bool:
    """huey is optional (the ``bench`` extra): without it its columns are skipped."""
    try:
        return importlib.util.find_spec("huey") is not None
    except (ImportError, ValueError):
        return False


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- statistics ---
def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return NAN
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def finite(values: list[float]) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def summary(values: list[float]) -> tuple[float, float, float] | None:
    v = finite(values)
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


# --- one run's state ---
@dataclass
class Measurements:
    """``data[metric][engine]`` is a list with one value per repeat (NaN: failed)."""

    repeats: int
    data: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def put(self, metric: str, engine: str, rep: int, value: float) -> None:
        row = self.data.setdefault(metric, {})
        row.setdefault(engine, [NAN] * self.repeats)[rep] = value

    def get(self, metric: str, engine: str) -> list[float]:
        return self.data.get(metric, {}).get(engine, [])


class Consumer:
    """A consumer subprocess in its own process group (stopped with SIGTERM)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.logfile = logdir / f"{name}.log"
        self.argv = argv
        full_env = dict(os.environ)
        full_env.update(env)
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"consumer {self.name} exited ({self.proc.returncode}): {self.tail()}"
            )

    def tail(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> str | None:
        """SIGTERM the process group; returns a complaint when that took over 5 s."""
        if self.proc.poll() is not None:
            return None
        started = time.monotonic()
        complaint = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            complaint = f"consumer {self.name} ignored SIGTERM for {timeout:g} s: killed"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        took = time.monotonic() - started
        if complaint is None and took > 5:
            complaint = f"consumer {self.name} took {took:.1f} s to stop after SIGTERM"
        if complaint:
            log(f"{complaint}; its log ends with:\n{self.tail()[-800:]}")
        # process workers: make sure no child outlives its supervisor
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        return complaint


# --- engines ---
class Adapter:
    """What a workload needs from an engine."""

    name: str
    title: str
    app: Any  # the benchmark app: .huey, .noop(i, payload), .stamp(t)

    def reset(self) -> None:
        raise NotImplementedError

    def warm(self) -> None:
        raise NotImplementedError

    def enqueue_one(self, i: int) -> Any:
        raise NotImplementedError

    def enqueue_bulk(self, n: int) -> Any:
        raise NotImplementedError

    def preload(self, n: int) -> None:
        raise NotImplementedError

    # Both engines are called the same way (huey's API): these work for either.
    def stamp(self, t: float) -> Any:
        return self.app.stamp(t)

    def schedule_stamp(self, eta: float, delay: float) -> Any:
        return self.app.stamp.schedule(args=(eta,), delay=delay)

    def call_and_wait(self, i: int, timeout: float) -> Any:
        return self.app.noop(i, "x").get(blocking=True, timeout=timeout)

    def value(self, handle: Any, timeout: float) -> Any:
        return handle.get(blocking=True, timeout=timeout)

    def progress(self, n: int) -> tuple[int, int]:  # (not yet claimed, finished)
        raise NotImplementedError

    def finished_count(self) -> int:
        raise NotImplementedError

    def counts_text(self) -> str:
        return "?"

    def bytes_per_task(self, n: int) -> float:
        raise NotImplementedError

    def message_size(self) -> int:
        raise NotImplementedError

    def consumer(self, mode: str, logdir: Path) -> Consumer:
        raise NotImplementedError


def _sum_memory_usage(client: redis.Redis) -> int:
    """Bytes held by every key of the (private) server: MEMORY USAGE with SAMPLES 0."""
    total = 0
    for key in client.scan_iter(count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


class Ours(Adapter):
    def __init__(self, url: str, server: redis.Redis) -> None:
        from . import bench_app

        self.name, self.title = "ours", "ours (Redis)"
        self.url = url
        self.server = server
        self.app = bench_app.build("redis", redis_url=url)
        self.storage = self.app.huey.storage

    def reset(self) -> None:
        self.server.flushall()

    def warm(self) -> None:
        self.app.noop(-1, "x")
        self.app.noop.map([(-1, "x")])
        self.reset()

    def enqueue_one(self, i: int) -> Any:
        return self.app.noop(i, "x")

    def enqueue_bulk(self, n: int) -> Any:
        return self.app.noop.map([(i, "x") for i in range(n)])

    def preload(self, n: int) -> None:
        self.enqueue_bulk(n)

    def progress(self, n: int) -> tuple[int, int]:
        # A result is written in the same atomic step that acknowledges its task.
        c = self.storage.counts()
        return c.ready + c.scheduled, n - (c.ready + c.scheduled + c.running)

    def finished_count(self) -> int:
        return len(self.storage.keys("result:"))

    def counts_text(self) -> str:
        dead = self.storage.dead_items(0, 5)
        reasons = ", ".join(f"{d.reason}: {d.error}" for d in dead)
        return f"{self.storage.counts()} (first dead: {reasons or 'none'})"

    def bytes_per_task(self, n: int) -> float:
        return _sum_memory_usage(self.server) / n

    def message_size(self) -> int:
        return len(self.app.huey.envelope.encode(self.app.noop.s(12345, "x")))

    def consumer_env(self) -> dict[str, str]:
        return {"BENCH_STORE": "redis", "BENCH_REDIS_URL": self.url}

    def consumer(self, mode: str, logdir: Path) -> Consumer:
        argv = [sys.executable, "-m", "hueyctl", "worker", "benchmarks.bench_app.huey", "-q"]
        argv += ["-w", "4"] if mode == "threads" else ["-w", "2", "-k", "process"]
        return Consumer(f"{self.name}-{mode}", argv, self.consumer_env(), logdir)


def sqlite_used_bytes(path: Path) -> int:
    """The pages a SQLite file uses once its WAL is checkpointed into it (free pages
    left out), in bytes: W6 on SQLite, the same for ours and huey's."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((page_count - freelist) * page_size)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)


class OursSqlite(Ours):
    def __init__(self, tmp: Path) -> None:
        self.name, self.title = "sqlite", "ours (SQLite)"
        self.tmp = tmp
        self.serial = 0
        self._open()

    def _open(self) -> None:
        from . import bench_app

        self.serial += 1
        self.path = self.tmp / f"bench-{self.serial}.db"
        self.app = bench_app.build("sqlite", sqlite_path=str(self.path))
        self.storage = self.app.huey.storage
        self.storage.counts()  # creates the schema

    def reset(self) -> None:
        with contextlib.suppress(Exception):
            self.storage.close()
        remove_sqlite(self.path)
        self._open()

    def bytes_per_task(self, n: int) -> float:
        # Bytes the tasks add to the file; the empty schema is measured on a fresh file.
        full = sqlite_used_bytes(self.path)
        from . import bench_app

        empty_path = self.tmp / "empty.db"
        empty = bench_app.build("sqlite", sqlite_path=str(empty_path)).huey.storage
        empty.counts()
        empty.close()
        base = sqlite_used_bytes(empty_path)
        remove_sqlite(empty_path)
        return (full - base) / n

    def consumer_env(self) -> dict[str, str]:
        return {"BENCH_STORE": "sqlite", "BENCH_SQLITE": str(self.path)}


class HueySqlite:
    """huey's ``SqliteHuey``, for W6 on SQLite only: the file bytes its ``enqueue``
    leaves per pending ``noop(i, "x")`` (one call per task, as huey's ``map``)."""

    name = "huey_sqlite"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def _fill(self, path: Path, n: int) -> None:
        from . import bench_app_huey

        app = bench_app_huey.build_sqlite(str(path))
        for i in range(n):
            app.noop(i, "x")
        app.huey.storage.close()

    def bytes_per_task(self, n: int) -> float:
        full, empty = self.tmp / "huey-sqlite.db", self.tmp / "huey-sqlite-empty.db"
        self._fill(empty, 0)
        self._fill(full, n)
        per = (sqlite_used_bytes(full) - sqlite_used_bytes(empty)) / n
        remove_sqlite(full)
        remove_sqlite(empty)
        return per


class Huey(Adapter):
    def __init__(self, url: str, server: redis.Redis, notify: bool = False) -> None:
        from . import bench_app_huey

        self.name = "huey_notify" if notify else "huey"
        self.title = "huey notify_result" if notify else "huey"
        self.url = url
        self.notify = notify
        self.server = server
        self.app = bench_app_huey.build(url, notify_result=notify)
        self.storage = self.app.huey.storage

    def reset(self) -> None:
        self.server.flushall()

    def warm(self) -> None:
        self.app.noop(-1, "x")
        self.reset()

    def enqueue_one(self, i: int) -> Any:
        return self.app.noop(i, "x")

    def enqueue_bulk(self, n: int) -> Any:
        # huey 3.5 has no bulk enqueue: TaskWrapper.map() enqueues one by one.
        return self.app.noop.map([(i, "x") for i in range(n)])

    def preload(self, n: int) -> None:
        # The very bytes enqueue() would push, pipelined only to save set-up time.
        h = self.app.huey
        pipe = self.server.pipeline(transaction=False)
        for i in range(n):
            pipe.lpush(self.storage.queue_key, h.serialize_task(self.app.noop.s(i, "x")))
            if len(pipe) >= 1000:
                pipe.execute()
        pipe.execute()

    def progress(self, n: int) -> tuple[int, int]:
        pipe = self.server.pipeline(transaction=False)
        pipe.llen(self.storage.queue_key)
        pipe.zcard(self.storage.schedule_key)
        pipe.hlen(self.storage.result_key)
        queued, scheduled, results = pipe.execute()
        return queued + scheduled, results

    def finished_count(self) -> int:
        return int(self.server.hlen(self.storage.result_key))

    def bytes_per_task(self, n: int) -> float:
        return _sum_memory_usage(self.server) / n

    def message_size(self) -> int:
        return len(self.app.huey.serialize_task(self.app.noop.s(12345, "x")))

    def consumer(self, mode: str, logdir: Path) -> Consumer:
        argv = [
            sys.executable,
            "-m",
            "huey.bin.huey_consumer",
            "benchmarks.bench_app_huey.huey",
            "-q",
        ]
        argv += ["-w", "4"] if mode == "threads" else ["-w", "2", "-k", "process"]
        env = {"BENCH_REDIS_URL": self.url, "BENCH_NOTIFY": "1" if self.notify else "0"}
        return Consumer(f"{self.name}-{mode}", argv, env, logdir)


class Raw:
    """Plain redis-py on the same server: the store's own limit."""

    name, title = "raw", "raw redis-py"

    def __init__(self, url: str, server: redis.Redis, body: bytes) -> None:
        self.url = url
        self.server = server
        self.r = redis.Redis.from_url(url, socket_timeout=30)
        self.body = body  # one of our envelopes, so payload sizes match

    def reset(self) -> None:
        self.server.flushall()

    def lpush_single(self, n: int) -> None:
        for _ in range(n):
            self.r.lpush("raw:q", self.body)

    def lpush_pipelined(self, n: int, batch: int = 1000) -> None:
        pipe = self.r.pipeline(transaction=False)
        for _ in range(n):
            pipe.lpush("raw:q", self.body)
            if len(pipe) >= batch:
                pipe.execute()
        pipe.execute()

    def drain_pipelined(self, n: int, batch: int = 100) -> int:
        """RPOP + SET (a result) per task, ``batch`` tasks per round trip."""
        done = 0
        pipe = self.r.pipeline(transaction=False)
        while done < n:
            for _ in range(batch):
                pipe.rpop("raw:q")
            bodies = pipe.execute()
            got = [b for b in bodies if b is not None]
            if not got:
                break
            for j in range(len(got)):
                pipe.set(f"raw:r:{done + j}", b"1")
            pipe.execute()
            done += len(got)
        return done

    def consumer(self, logdir: Path) -> Consumer:
        argv = [sys.executable, "-m", "benchmarks.raw_worker", self.url]
        return Consumer("raw-echo", argv, {}, logdir)


# --- the suite ---
class Suite:
    def __init__(self, cfg: Config, server: RedisServer, tmp: Path) -> None:
        self.cfg = cfg
        self.server = server
        self.tmp = tmp
        self.logdir = tmp / "logs"
        self.logdir.mkdir(exist_ok=True)
        self.client = server.client()
        self.m = Measurements(cfg.repeats)
        url = server.url
        self.ours = Ours(url, self.client)
        self.sqlite = OursSqlite(tmp)
        self.huey_sqlite = HueySqlite(tmp)
        self.has_huey = huey_installed() and "huey" in cfg.engines
        self.huey = Huey(url, self.client) if self.has_huey else None
        self.huey_notify = Huey(url, self.client, notify=True) if self.has_huey else None
        if not self.has_huey:
            self.m.notes.append("huey is not installed: its columns are skipped")
        self.raw = Raw(
            url, self.client, self.ours.app.huey.envelope.encode(self.ours.app.noop.s(1, "x"))
        )

    # helpers
    def adapters(self, rep: int) -> list[Adapter]:
        """Ours and huey alternate going first; SQLite last (it does not share Redis)."""
        pair: list[Adapter] = [self.ours] + ([self.huey] if self.huey else [])
        if rep % 2:
            pair.reverse()
        extra: list[Adapter] = [self.sqlite] if "sqlite" in self.cfg.engines else []
        return [a for a in pair + extra if a.name in self.cfg.engines]

    def stopped(self, consumer: Consumer) -> None:
        complaint = consumer.stop(self.cfg.stop_timeout)
        if complaint:
            self.m.notes.append(complaint)

    def wants(self, workload: str) -> bool:
        return workload in self.cfg.workloads

    def guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # one failed figure must not sink the run
            log(f"FAILED {what}: {type(exc).__name__}: {exc}")
            self.m.notes.append(f"{what} failed: {type(exc).__name__}: {exc}"[:300])

    # W1, W1b, W6 ---
    def enqueue_workloads(self, rep: int) -> None:
        n = self.cfg.n
        for a in self.adapters(rep):
            if self.wants("W1"):
                self.guarded(f"W1 {a.name}", lambda a=a: self._w1(a, rep, n))
            if self.wants("W1b") or self.wants("W6"):
                self.guarded(f"W1b {a.name}", lambda a=a: self._w1b(a, rep, n))
        if "raw" in self.cfg.engines:
            self.guarded("W1 raw", lambda: self._raw_enqueue(rep, n))
        if self.wants("W6") and self.has_huey and "sqlite" in self.cfg.engines:
            self.guarded("W6 huey_sqlite", lambda: self._w6_huey_sqlite(rep, n))

    def _w6_huey_sqlite(self, rep: int, n: int) -> None:
        """W6 on SQLite: ours (measured by _w1b) against huey's SqliteHuey."""
        per = self.huey_sqlite.bytes_per_task(n)
        self.m.put("W6s", "huey_sqlite", rep, per)
        ours = self.m.get("W6", "sqlite")
        if ours:
            self.m.put("W6s", "sqlite", rep, ours[rep])
        log(f"W6  huey SqliteHuey {per:,.0f} file bytes/task")

    def _w1(self, a: Adapter, rep: int, n: int) -> None:
        a.reset()
        a.warm()
        t0 = time.perf_counter()
        for i in range(n):
            a.enqueue_one(i)
        rate = n / (time.perf_counter() - t0)
        self.m.put("W1", a.name, rep, rate)
        log(f"W1  {a.name:7} {rate:10,.0f} tasks/s")

    def _w1b(self, a: Adapter, rep: int, n: int) -> None:
        a.reset()
        a.warm()
        t0 = time.perf_counter()
        a.enqueue_bulk(n)
        rate = n / (time.perf_counter() - t0)
        self.m.put("W1b", a.name, rep, rate)
        per = a.bytes_per_task(n)
        self.m.put("W6", a.name, rep, per)
        self.m.put("msg", a.name, rep, a.message_size())
        log(f"W1b {a.name:7} {rate:10,.0f} tasks/s; W6 {per:,.0f} bytes/task")

    def _raw_enqueue(self, rep: int, n: int) -> None:
        raw = self.raw
        raw.reset()
        raw.lpush_single(10)
        raw.reset()
        if self.wants("W1"):
            t0 = time.perf_counter()
            raw.lpush_single(n)
            self.m.put("W1", "raw", rep, n / (time.perf_counter() - t0))
            raw.reset()
        t0 = time.perf_counter()
        raw.lpush_pipelined(n)
        self.m.put("W1b", "raw", rep, n / (time.perf_counter() - t0))
        self.m.put("W6", "raw", rep, _sum_memory_usage(self.client) / n)
        self.m.put("msg", "raw", rep, len(raw.body))
        log(f"W1/W1b/W6 raw {self.m.get('W1b', 'raw')[rep]:10,.0f} tasks/s pipelined")

    # W2 ---
    def drain_workloads(self, rep: int) -> None:
        n = self.cfg.n
        for mode in ("threads", "procs"):
            for a in self.adapters(rep):
                self.guarded(
                    f"W2 {mode} {a.name}", lambda a=a, mode=mode: self._w2(a, rep, n, mode)
                )
        if "raw" in self.cfg.engines:
            self.guarded("W2 raw", lambda: self._w2_raw(rep, n))

    def _w2(self, a: Adapter, rep: int, n: int, mode: str) -> None:
        a.reset()
        a.preload(n)
        poll = 0.005 if isinstance(a, OursSqlite) else 0.002
        consumer = a.consumer(mode, self.logdir)
        capped = False
        try:
            first = last = None
            start_deadline = time.monotonic() + 60  # the consumer must start by then
            while True:
                waiting, finished = a.progress(n)
                now = time.perf_counter()
                if first is None:
                    if waiting < n:
                        first = now
                    elif time.monotonic() > start_deadline:
                        raise TimeoutError("the consumer claimed nothing within 60 s")
                if finished >= n:
                    if first is None:
                        raise RuntimeError("the drain ended between two polls: use a larger -n")
                    last = now
                    break
                if first is not None and now - first > self.cfg.drain_cap:
                    last, capped = now, True
                    break
                consumer.check()
                time.sleep(poll)
        finally:
            self.stopped(consumer)
        if not capped and a.finished_count() != n:
            # Keep what tells why: the store's counts and the consumer's log.
            kept = Path(os.environ.get("BENCH_KEEP_DIR", tempfile.gettempdir()))
            log_copy = kept / f"bench-{consumer.logfile.name}"
            shutil.copyfile(consumer.logfile, log_copy)
            raise RuntimeError(
                f"{a.finished_count()} results for {n} tasks; counts now {a.counts_text()}; "
                f"consumer log kept in {log_copy}"
            )
        rate = finished / max(last - first, 1e-6)
        self.m.put(f"W2{mode[0]}", a.name, rep, rate)
        if capped:
            self.m.notes.append(
                f"W2 {mode} {a.name} (repeat {rep + 1}): capped at {self.cfg.drain_cap:g} s, "
                f"{finished:,} of {n:,} tasks finished"
            )
        log(f"W2 {mode:7} {a.name:7} {rate:10,.0f} tasks/s ({finished} in {last - first:.2f} s)")

    def _w2_raw(self, rep: int, n: int) -> None:
        raw = self.raw
        raw.reset()
        raw.lpush_pipelined(n)
        t0 = time.perf_counter()
        done = raw.drain_pipelined(n)
        rate = done / (time.perf_counter() - t0)
        self.m.put("W2t", "raw", rep, rate)
        log(f"W2 raw pipelined {rate:10,.0f} tasks/s")

    # W3, W4, W5 ---
    def latency_workloads(self, rep: int) -> None:
        if not (self.wants("W3") or self.wants("W4") or self.wants("W5")):
            return
        order = self.adapters(rep)
        if self.huey_notify is not None and self.wants("W5"):
            order.insert(order.index(self.huey) + 1, self.huey_notify)  # type: ignore[arg-type]
        for a in order:
            self.guarded(f"latency {a.name}", lambda a=a: self._session(a, rep))
        if "raw" in self.cfg.engines:
            self.guarded("latency raw", lambda: self._raw_session(rep))

    def _session(self, a: Adapter, rep: int) -> None:
        a.reset()
        consumer = a.consumer("threads", self.logdir)
        try:
            deadline = time.monotonic() + 60
            while True:  # ready when a task makes the round trip
                consumer.check()
                try:
                    a.call_and_wait(-1, timeout=1.0)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
            notify_only = a.name == "huey_notify"
            if self.wants("W3") and not notify_only:
                self._w3(a, rep)
            if self.wants("W4") and not notify_only:
                self._w4(a, rep)
            if self.wants("W5"):
                self._w5(a, rep)
        finally:
            self.stopped(consumer)

    def _w3(self, a: Adapter, rep: int) -> None:
        handles = []
        for _ in range(self.cfg.n_latency):
            handles.append(a.stamp(time.time()))
            time.sleep(self.cfg.gap)
        ms = [1000.0 * float(a.value(h, 30.0)) for h in handles]
        self.m.put("W3p50", a.name, rep, percentile(ms, 50))
        self.m.put("W3p99", a.name, rep, percentile(ms, 99))
        log(f"W3 {a.name:7} p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms")

    def _w4(self, a: Adapter, rep: int) -> None:
        cfg = self.cfg
        n, span = cfg.n_sched, cfg.delay_max - cfg.delay_min
        handles = []
        for i in range(n):
            delay = cfg.delay_min + span * i / max(1, n - 1)
            handles.append(a.schedule_stamp(time.time() + delay, delay))
        ms = [1000.0 * float(a.value(h, cfg.delay_max + 30.0)) for h in handles]
        self.m.put("W4p50", a.name, rep, percentile(ms, 50))
        self.m.put("W4p99", a.name, rep, percentile(ms, 99))
        log(f"W4 {a.name:7} p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms")

    def _w5(self, a: Adapter, rep: int) -> None:
        lat = []
        t0 = time.perf_counter()
        for i in range(self.cfg.n_latency):
            t = time.perf_counter()
            a.call_and_wait(i, timeout=30.0)
            lat.append(1000.0 * (time.perf_counter() - t))
            if t - t0 > self.cfg.call_cap:
                self.m.notes.append(
                    f"W5 {a.name} (repeat {rep + 1}): capped at {self.cfg.call_cap:g} s, "
                    f"{len(lat):,} of {self.cfg.n_latency:,} calls"
                )
                break
        rate = len(lat) / (time.perf_counter() - t0)
        self.m.put("W5", a.name, rep, rate)
        self.m.put("W5p50", a.name, rep, percentile(lat, 50))
        log(f"W5 {a.name:11} {rate:8,.0f} calls/s  p50 {percentile(lat, 50):7.2f} ms")

    def _raw_session(self, rep: int) -> None:
        raw = self.raw
        raw.reset()
        consumer = raw.consumer(self.logdir)
        r = raw.r
        try:
            r.lpush("raw:q", repr(time.time()))
            if r.brpop(["raw:out"], timeout=60) is None:
                consumer.check()
                raise TimeoutError("raw echo worker did not answer")
            if self.wants("W3"):
                n = self.cfg.n_latency
                for _ in range(n):
                    r.lpush("raw:q", repr(time.time()))
                    time.sleep(self.cfg.gap)
                ms: list[float] = []
                while len(ms) < n:
                    item = r.brpop(["raw:out"], timeout=30)
                    if item is None:
                        raise TimeoutError("raw echo worker stalled")
                    ms.append(1000.0 * float(item[1]))
                self.m.put("W3p50", "raw", rep, percentile(ms, 50))
                self.m.put("W3p99", "raw", rep, percentile(ms, 99))
            if self.wants("W5"):
                lat = []
                t0 = time.perf_counter()
                for _ in range(self.cfg.n_latency):
                    t = time.perf_counter()
                    r.lpush("raw:q", repr(time.time()))
                    r.brpop(["raw:out"], timeout=30)
                    lat.append(1000.0 * (time.perf_counter() - t))
                self.m.put("W5", "raw", rep, self.cfg.n_latency / (time.perf_counter() - t0))
                self.m.put("W5p50", "raw", rep, percentile(lat, 50))
            r.lpush("raw:q", "stop")
            log("W3/W5 raw done")
        finally:
            self.stopped(consumer)

    # all of it ---
    def run(self) -> Measurements:
        for rep in range(self.cfg.repeats):
            log(f"--- repeat {rep + 1}/{self.cfg.repeats}")
            if self.wants("W1") or self.wants("W1b") or self.wants("W6"):
                self.enqueue_workloads(rep)
            if self.wants("W2"):
                self.drain_workloads(rep)
            self.latency_workloads(rep)
        return self.m


# --- the table ---
@dataclass
class Row:
    metric: str
    label: str
    unit: str
    higher_better: bool
    huey: str = "huey"  # which huey column the ratio compares against
    ours: str = "ours"  # ... and which of ours
    show: tuple[str, ...] = ("ours", "huey", "sqlite", "raw")
    target: str = ""


ROWS = [
    Row("W1", "W1 enqueue, single calls", "tasks/s", True, target="≥ 1.2× huey"),
    Row(
        "W1b",
        "W1b bulk enqueue (`map`; huey: no bulk path, `map` = N enqueues)",
        "tasks/s",
        True,
        target="≥ 10× huey W1",
    ),
    Row("W2t", "W2 drain, 1 process × 4 threads", "tasks/s", True, target="≥ 6× huey"),
    Row(
        "W2p",
        "W2 drain, 2 processes",
        "tasks/s",
        True,
        show=("ours", "huey", "sqlite"),
        target="≥ 6× huey",
    ),
    Row("W3p50", "W3 enqueue→start p50", "ms", False, target="≤ 0.8× huey"),
    Row("W3p99", "W3 enqueue→start p99", "ms", False, target="≤ 5 ms"),
    Row("W4p50", "W4 lateness past eta p50", "ms", False, show=("ours", "huey", "sqlite")),
    Row(
        "W4p99",
        "W4 lateness past eta p99",
        "ms",
        False,
        show=("ours", "huey", "sqlite"),
        target="≤ 20 ms",
    ),
    Row("W5", "W5 enqueue + blocking get (huey polling)", "calls/s", True),
    Row(
        "W5",
        "W5 enqueue + blocking get (huey `notify_result=True`)",
        "calls/s",
        True,
        huey="huey_notify",
        target="≥ 1.5× huey",
    ),
    Row("W5p50", "W5 round trip p50 (huey polling)", "ms", False),
    Row("W5p50", "W5 round trip p50 (huey `notify_result=True`)", "ms", False, huey="huey_notify"),
    Row(
        "W6",
        "W6 Redis bytes per pending task (SQLite: file bytes)",
        "bytes",
        False,
        target="≤ huey",
    ),
    Row(
        "W6s",
        "W6 SQLite file bytes per pending task (huey: `SqliteHuey`)",
        "bytes",
        False,
        huey="huey_sqlite",
        ours="sqlite",
        show=("huey", "sqlite"),
        target="≤ huey",
    ),
    Row("msg", "message size (ours: JSON envelope; huey: pickle)", "bytes", False),
]


def fmt_num(v: float, unit: str) -> str:
    if unit == "ms":
        return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"
    return f"{v:,.0f}"


def fmt_cell(values: list[float], unit: str) -> str:
    s = summary(values)
    if s is None:
        return "—" if not values else "failed"
    med, lo, hi = s
    if len(finite(values)) == 1:
        return fmt_num(med, unit)
    return f"{fmt_num(med, unit)} ({fmt_num(lo, unit)}–{fmt_num(hi, unit)})"


def paired_ratios(a: list[float], b: list[float]) -> list[float]:
    out = []
    for x, y in zip(a, b, strict=False):
        if x is None or y is None or math.isnan(x) or math.isnan(y) or y == 0:
            out.append(NAN)
        else:
            out.append(x / y)
    return out


def fmt_ratio(r: list[float]) -> str:
    s = summary(r)
    if s is None:
        return "—"
    med, lo, hi = s
    if len(finite(r)) == 1:
        return f"{med:.2f}×"
    return f"{med:.2f}× ({lo:.2f}–{hi:.2f})"


def evaluate(row: Row, m: Measurements) -> tuple[str, str]:
    """(what was measured against the target, met / not met / n/a)."""
    ours = m.get(row.metric, row.ours)
    huey = m.get(row.metric, row.huey)
    ratio = summary(paired_ratios(ours, huey))
    own = summary(ours)

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("**met**" if ok else "not met")

    if row.target.startswith("≥ 10× huey W1"):
        r = summary(paired_ratios(ours, m.get("W1", "huey")))
        return (f"{r[0]:.1f}×" if r else "—"), verdict(None if r is None else r[0] >= 10)
    if row.target.startswith("≥"):
        need = float(row.target.split()[1].rstrip("×"))
        return (f"{ratio[0]:.2f}×" if ratio else "—"), verdict(
            None if ratio is None else ratio[0] >= need
        )
    if row.target.startswith("≤") and row.target.endswith("huey"):  # "≤ huey", "≤ 0.8× huey"
        words = row.target.split()
        most = float(words[1].rstrip("×")) if len(words) == 3 else 1.0
        return (f"{ratio[0]:.2f}×" if ratio else "—"), verdict(
            None if ratio is None else ratio[0] <= most
        )
    if row.target.endswith("ms"):
        limit = float(row.target.split()[1])
        return (f"{own[0]:.2f} ms" if own else "—"), verdict(
            None if own is None else own[0] <= limit
        )
    return "", ""


def table(m: Measurements, huey_version: str) -> str:
    head = (
        f"| Workload | unit | ours (Redis) | huey {huey_version} | ours/huey | ours (SQLite) "
        "| raw redis-py | target | measured | met? |"
    )
    lines = [head, "|" + "---|" * 10]
    for row in ROWS:
        if row.metric not in m.data:
            continue
        cells = []
        for eng in ("ours", row.huey, "sqlite", "raw"):
            key = "huey" if eng.startswith("huey") else eng
            cells.append(fmt_cell(m.get(row.metric, eng), row.unit) if key in row.show else "—")
        ratio = fmt_ratio(paired_ratios(m.get(row.metric, row.ours), m.get(row.metric, row.huey)))
        measured, met = evaluate(row, m) if row.target else ("", "")
        better = "↑" if row.higher_better else "↓"
        lines.append(
            f"| {row.label} | {row.unit} {better} | {cells[0]} | {cells[1]} | {ratio} | "
            f"{cells[2]} | {cells[3]} | {row.target} | {measured} | {met} |"
        )
    return "\n".join(lines)


def targets(m: Measurements) -> list[tuple[str, str, str]]:
    out = []
    for row in ROWS:
        if row.target and row.metric in m.data:
            measured, met = evaluate(row, m)
            out.append((f"{row.label}: {row.target}", measured, met.strip("*")))
    return out


# --- entry point ---
def parse(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.suite",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat (CI)")
    p.add_argument("--repeats", type=int, help="repeats per figure (default 3)")
    p.add_argument("-n", type=int, help="tasks for W1, W1b, W2, W6 (default 20000)")
    p.add_argument("--n-latency", type=int, help="tasks for W3 and W5 (default 1000)")
    p.add_argument("--n-sched", type=int, help="tasks for W4 (default 200)")
    p.add_argument("--only", help="comma-separated workloads, e.g. W1,W2 (default all)")
    p.add_argument("--engines", help=f"comma-separated subset of {','.join(ENGINES)}")
    p.add_argument("--no-huey", action="store_true", help="skip huey even when installed")
    p.add_argument("--json", type=Path, help="also write every measurement as JSON here")
    p.add_argument("--markdown", type=Path, help="also write the Markdown report here")
    p.add_argument("--redis-server", help="redis-server binary (default: from PATH)")
    args = p.parse_args(argv)
    cfg = replace(SMOKE) if args.smoke else Config()
    if args.repeats:
        cfg.repeats = args.repeats
    if args.n:
        cfg.n = args.n
    if args.n_latency:
        cfg.n_latency = args.n_latency
    if args.n_sched:
        cfg.n_sched = args.n_sched
    if args.only:
        cfg.workloads = tuple(w.strip() for w in args.only.split(","))
    engines = tuple(e.strip() for e in args.engines.split(",")) if args.engines else ENGINES
    if args.no_huey:
        engines = tuple(e for e in engines if not e.startswith("huey"))
    cfg.engines = engines
    return cfg, args


def report(cfg: Config, m: Measurements, redis_version: str, seconds: float) -> str:
    hv = "not installed"
    if huey_installed():
        import huey

        hv = huey.__version__
    when = dt.datetime.now().strftime("%Y-%m-%d")
    head = [
        f"Benchmarks {when}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Redis {redis_version} (private server, no persistence), huey {hv}; "
        f"{cfg.repeats} repeat(s), median (min–max); ratios are per-repeat pairs. "
        f"n = {cfg.n:,} (W1, W1b, W2, W6), {cfg.n_latency:,} (W3, W5), {cfg.n_sched} (W4, "
        f"delays {cfg.delay_min:g}–{cfg.delay_max:g} s); drains and W5 loops stop after "
        f"{cfg.drain_cap:g} s / {cfg.call_cap:g} s (see notes). Suite took {seconds:.0f} s.",
        "",
        table(m, hv),
        "",
        "Targets:",
        "",
    ]
    for what, measured, met in targets(m):
        head.append(f"- {what} — {measured or '—'}: {met}")
    if m.notes:
        head += ["", "Notes:", ""] + [f"- {n}" for n in m.notes]
    return "\n".join(head)


@contextlib.contextmanager
def _tempdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hueyctl-bench-") as d:
        yield Path(d)


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse(argv)
    started = time.monotonic()
    with RedisServer(args.redis_server) as server, _tempdir() as tmp:
        log(f"redis-server {server.version()} on {server.url} (dir {server.dir})")
        suite = Suite(cfg, server, tmp)
        m = suite.run()
        version = server.version()
    text = report(cfg, m, version, time.monotonic() - started)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"config": asdict(cfg), "data": m.data, "notes": m.notes}, indent=1, default=str
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
