"""Complete listings at scale (issue 13, item 2): ``failed --jsonl | wc -l`` equals the
dead-letter count at 10,000, ``pending --jsonl | wc -l`` the ready count at 200,000, no
task is listed twice while a worker claims meanwhile, and the CLI's peak RSS stays under
200 MiB (printed: run with ``-s`` to see it).

Real Redis (the test database), ``python -m hueyctl`` under ``bash -o pipefail`` and
``/usr/bin/time``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import RedisHuey
from engine.storage.base import Outcome

pytestmark = pytest.mark.slow
HUEYCTL = f"{shlex.quote(sys.executable)} -m hueyctl"
LIMIT_MIB = 200


@pytest.fixture
def big(redis_url: str) -> Iterator[tuple[RedisHuey, Any, dict[str, str]]]:
    huey = RedisHuey(f"scale-{uuid.uuid4().hex[:10]}", url=redis_url)

    @huey.task(name="tasks.add")
    def add(a: int, b: int) -> int:
        return a + b

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUEYCTL_")}
    yield huey, add, dict(env, HUEYCTL_URL=redis_url, HUEYCTL_QUEUE=huey.name)
    huey.flush()
    huey.storage.close()


def fill(huey: RedisHuey, add: Any, n: int) -> None:
    for start in range(0, n, 2000):
        huey.enqueue_many([add.s(i, i) for i in range(start, min(n, start + 2000))])


def listing(env: dict[str, str], command: str, out: Path) -> tuple[int, float]:
    """Run ``hueyctl COMMAND > out`` under /usr/bin/time: (peak RSS in MiB, seconds)."""
    rss = out.with_suffix(".rss")
    script = f"/usr/bin/time -f %M -o {rss} {HUEYCTL} {command} > {out}"
    start = time.monotonic()
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        env=env,
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    return int(rss.read_text().split()[-1]) // 1024, time.monotonic() - start


def test_failed_jsonl_lists_10000_dead_letters(big: Any, tmp_path: Path) -> None:
    huey, add, env = big
    fill(huey, add, 10_000)
    storage = huey.storage
    while claimed := storage.claim("c-scale", time.time(), 2000, 60):
        dead = Outcome(dead=("failed", "ValueError: boom"))
        storage.finish_many("c-scale", [(c.id, time.time(), dead) for c in claimed])
    out = tmp_path / "failed.jsonl"
    mib, seconds = listing(env, "failed --jsonl", out)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    print(f"\nfailed --jsonl: {len(ids)} rows in {seconds:.1f}s, peak RSS {mib} MiB")
    assert len(ids) == len(set(ids)) == storage.counts().dead == 10_000
    assert mib < LIMIT_MIB


def test_pending_jsonl_lists_200000_once_each_while_a_worker_claims(
    big: Any, tmp_path: Path
) -> None:
    huey, add, env = big
    fill(huey, add, 200_000)
    out = tmp_path / "pending.jsonl"
    mib, seconds = listing(env, "pending --jsonl", out)
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    print(f"\npending --jsonl: {len(ids)} rows in {seconds:.1f}s, peak RSS {mib} MiB")
    assert len(ids) == len(set(ids)) == huey.storage.counts().ready == 200_000
    assert mib < LIMIT_MIB

    stop = threading.Event()
    other = RedisHuey(huey.name, url=env["HUEYCTL_URL"])

    def claim() -> None:  # a worker taking tasks off the head while the listing reads
        while not stop.is_set():
            other.storage.claim("c-claimer", time.time(), 100, 60)
            time.sleep(0.005)

    worker = threading.Thread(target=claim, daemon=True)
    worker.start()
    try:
        mib, seconds = listing(env, "pending --jsonl", out)
    finally:
        stop.set()
        worker.join(5)
        other.storage.close()
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    print(f"pending --jsonl while claiming: {len(ids)} rows, {seconds:.1f}s, {mib} MiB")
    assert len(ids) == len(set(ids)) and 0 < len(ids) <= 200_000
    assert mib < LIMIT_MIB
