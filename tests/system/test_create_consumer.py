"""Issue 10: a consumer run from code with huey's options, as a Django or Flask
management command does (``huey.create_consumer(...).run()``), on real Redis in a
real process: thread workers run in that process, process workers in children of
it; a handler on ``logging.getLogger('huey')`` sees the consumer's logs; SIGTERM stops
it cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from support.procs import wait_for

from engine import RedisHuey

SCRIPT = """
import logging, os
from engine import RedisHuey

huey = RedisHuey({name!r}, url={url!r}, blocking=True, read_timeout=1, notify_result=True)

@huey.task(name="opts.pid")
def pid():
    return os.getpid()

handler = logging.FileHandler({log!r})
handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
logging.getLogger("huey").addHandler(handler)
logging.getLogger("huey").setLevel(logging.INFO)

consumer = huey.create_consumer(
    workers=2, worker_type={worker_type!r}, initial_delay=0.1, backoff=1.15, max_delay=10.0,
    check_worker_health=True, health_check_interval=1, graceful_signal="TERM",
    shutdown_timeout=5,
)
print("ready", flush=True)
consumer.run()
"""


@pytest.mark.slow
@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_create_consumer_runs_with_hueys_options(
    redis_url: str, tmp_path: Path, worker_type: str
) -> None:
    name = f"p10-consumer-{uuid.uuid4().hex[:8]}"
    log, out = tmp_path / "huey.log", tmp_path / "out.log"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(SCRIPT).format(
            name=name, url=redis_url, log=str(log), worker_type=worker_type
        )
    )
    producer = RedisHuey(name, url=redis_url)
    pid = producer.task(name="opts.pid")(lambda: None)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        wait_for(lambda: "ready" in out.read_text() or proc.poll() is not None, 15, "ready")
        assert proc.poll() is None, out.read_text()
        results = [pid() for _ in range(4)]
        pids = {r(blocking=True, timeout=15) for r in results}
        if worker_type == "thread":
            assert pids == {proc.pid}
        else:
            assert proc.pid not in pids and os.getpid() not in pids and None not in pids
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, out.read_text()
        text = log.read_text()
        assert "huey.consumer received SIGTERM" in text, text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        producer.flush()
        producer.storage.close()
