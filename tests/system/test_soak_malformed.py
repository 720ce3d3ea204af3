"""Every entry is data, never a crash (issue 11, "Done when"): one real worker process
takes 10,000 malformed entries of every kind (bad JSON, wrong option types, an unknown
task, a bad signature, ids that are not UTF-8, ids with no body) interleaved with 1,000
valid tasks: the 1,000 run, every bad entry is set aside with a reason (or, with no
body to keep, dropped with a log line), the pid never changes and its RSS grows less
than 50 MiB (printed)."""

from __future__ import annotations

import collections
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from support.procs import App, wait_for
from support.redis_keys import plant_ready

from engine import RedisHuey
from engine.codec import canonical_json, sign
from engine.task import Task

pytestmark = pytest.mark.slow

KEY = b"soak-key"
TASKS = """
@huey.task()
def work(i):
    record(i)
    return i
"""
KINDS = ("json", "types", "unknown", "signature", "utf8", "nobody")
WRONG = [("timeout", "soon"), ("expires", "never"), ("chord", "x"), ("retries", "3"),
         ("priority", 1.5), ("eta", [1]), ("attempt", {}), ("retry_delay", "x")]  # fmt: skip


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _signed(rec: dict[str, Any]) -> bytes:
    rec = dict(rec, v=1)
    rec["sig"] = sign(KEY, canonical_json(rec))
    return canonical_json(rec)


def _bad(kind: str, n: int) -> tuple[bytes, bytes | None]:
    """A bad entry: (ready id, body or None)."""
    tid = f"bad-{kind}-{n}-{uuid.uuid4().hex[:6]}"
    base = {"id": tid, "task": "app.work", "args": [n]}
    if kind == "json":
        return tid.encode(), b'{"id": "' + tid.encode() + b'", "task": '
    if kind == "types":
        field, value = WRONG[n % len(WRONG)]
        return tid.encode(), _signed(dict(base, **{field: value}))
    if kind == "unknown":
        return tid.encode(), _signed(dict(base, task="app.nope"))
    if kind == "signature":
        return tid.encode(), canonical_json(dict(base, v=1, sig="00" * 32))
    if kind == "utf8":
        return b"bad-\xff\xfe-%d" % n, _signed(base)
    return tid.encode(), None  # an id with no body


def test_worker_survives_10000_malformed_entries(redis_url: str, tmp_path: Path) -> None:
    name = f"soak-{uuid.uuid4().hex[:8]}"
    config = (
        "from engine import RedisHuey\n"
        f"huey = RedisHuey({name!r}, url={redis_url!r}, signing_key={KEY!r})\n"
    )
    app = App(tmp_path, config, TASKS)
    huey = RedisHuey(name, url=redis_url, signing_key=KEY)
    client = redis.Redis.from_url(redis_url)
    prefix = f"hueyctl:{{{name}}}:"
    try:
        proc = app.start_worker("-w", "4", "--lease", "5", "--heartbeat", "1")
        time.sleep(1.0)
        rss_before = _rss(proc.pid)
        kinds: collections.Counter[str] = collections.Counter()
        pipe = client.pipeline(transaction=False)
        valid = 0
        for n in range(11_000):
            if n % 11 == 5:  # one valid task in every 11 entries
                task = Task(name="app.work", args=(valid,))
                task.registered_name = "app.work"
                rid, body = task.id.encode(), huey.envelope.encode(task)
                valid += 1
            else:
                kind = KINDS[n % len(KINDS)]
                kinds[kind] += 1
                rid, body = _bad(kind, n)
            plant_ready(pipe, name, rid, body)
            if n % 1000 == 999:
                pipe.execute()
        pipe.execute()
        assert valid == 1000 and sum(kinds.values()) == 10_000
        client.rpush(prefix + "wake", b"1")
        started = time.monotonic()
        with_body = 10_000 - kinds["nobody"]
        store = huey.storage

        def settled() -> bool:
            counts = store.counts()
            return (
                len(app.executions()) >= 1000
                and counts.dead >= with_body
                and counts.ready == 0
                and counts.running == 0
            )

        wait_for(settled, 90, "the valid tasks to run and the bad ones to be set aside")
        took = time.monotonic() - started
        rss_after = _rss(proc.pid)
        growth = (rss_after - rss_before) / 2**20
        print(f"10,000 bad + 1,000 valid entries in {took:.1f}s; RSS growth {growth:.1f} MiB")
        assert sorted(app.executions()) == list(range(1000))
        assert {line.split()[1] for line in app.log.read_text().splitlines()} == {str(proc.pid)}
        assert proc.poll() is None
        letters = store.dead_items(0, 20_000)
        assert len(letters) == with_body
        assert all(x.error for x in letters)
        reasons = collections.Counter(x.reason for x in letters)
        assert reasons == {
            "malformed": with_body - kinds["unknown"],
            "unknown task": kinds["unknown"],
        }
        out = app.output(proc)
        assert out.count("had no body") == kinds["nobody"]
        assert "Traceback" not in out
        assert growth < 50
    finally:
        app.stop_all()
        client.close()
        huey.storage.destroy()
