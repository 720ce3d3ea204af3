"""The sample application behind ``hueyctl demo``: the guide's tasks, a pipeline,
a periodic task and a flaky task that fails and retries, on an SQLite file (no
server needed). Imported only by the demo command and its worker.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

from engine import SqliteHuey, crontab

from . import DEMO_DB_ENV as DB_ENV  # `hueyctl demo` sets it: a new file per run

DEFAULT_DB = str(Path(tempfile.gettempdir()) / "hueyctl-demo.db")
huey = SqliteHuey("demo", filename=os.environ.get(DB_ENV) or DEFAULT_DB)


@huey.task()
def count_beans(num: int) -> str:
    return "Counted %s beans" % num


@huey.task()
def add(a: int, b: int) -> int:
    return a + b


@huey.task(retries=2, retry_delay=1)
def flaky(n: int) -> int:
    time.sleep(random.random() * 0.05)
    if random.random() < 0.3:
        raise RuntimeError(f"flaky task {n} failed")
    return n


@huey.task()
def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@huey.periodic_task(crontab(minute="*"))
def print_time() -> None:
    print(datetime.now())


def traffic(i: int) -> None:
    count_beans(i)
    if i % 3 == 0:
        huey.enqueue(add.s(1, 2).then(add, 3).then(add, 4))
    if i % 5 == 0:
        flaky(i)
    if i % 7 == 0:
        slow.schedule(args=(0.2,), delay=2)
