"""Issue 12 with real processes: a signed pickle queue served by ``hueyctl worker``,
fed by ``hueyctl enqueue --url`` with the key in HUEYCTL_SIGNING_KEY, and a result
planted in Redis refused by ``hueyctl show --app`` in a process of its own."""

from __future__ import annotations

import base64
import pickle
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.procs import App, wait_for

from engine import RedisHuey
from engine.codec import canonical_json
from engine.keys import result_key

pytestmark = pytest.mark.slow

KEY = "rotate-me-0123456789"


@pytest.fixture
def app(redis_url: str, tmp_path: Path) -> Iterator[App]:
    name = f"sigproc-{uuid.uuid4().hex[:10]}"
    a = App(
        tmp_path,
        f"""
        from engine import RedisHuey
        huey = RedisHuey({name!r}, url={redis_url!r}, codec="pickle", signing_key={KEY!r})
        """,
        """
        @huey.task(name="rec")
        def rec(i):
            record(i)
            return i
        """,
    )
    a.name, a.url = name, redis_url  # type: ignore[attr-defined]
    yield a
    a.stop_all()
    h = RedisHuey(name, url=redis_url)
    h.flush()
    h.storage.close()


def _hueyctl(app: App, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in app.env.items() if not k.startswith("HUEYCTL_")}
    return subprocess.run(
        [sys.executable, "-m", "hueyctl", *args],
        cwd=app.root,
        env=dict(base, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


class _Canary:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return (open, (str(self.path), "w"))


def test_signed_queue_from_the_shell_and_a_planted_result(app: App) -> None:
    name, url = app.name, app.url  # type: ignore[attr-defined]
    app.start_worker("--workers", "1")
    wait_for(
        lambda: (
            b'"signed":true'
            in b"".join(RedisHuey(name, url=url).storage.map_items("workers").values())
        ),
        15,
        "the worker's registry entry",
    )
    where = ["--url", url, "--queue", name, "--force"]

    refused = _hueyctl(app, "enqueue", "rec", "1", *where)
    assert refused.returncode == 2, refused
    (line,) = refused.stderr.strip().splitlines()
    assert "is signed" in line and "HUEYCTL_SIGNING_KEY" in line

    ok = _hueyctl(
        app, "enqueue", "rec", "2", *where, "--wait", "--timeout", "20", HUEYCTL_SIGNING_KEY=KEY
    )
    assert ok.returncode == 0, ok.stderr
    # (--url knows no codec: a pickle result is printed as its base64 text)
    assert app.executions() == [2]

    canary = app.root / "canary"
    task_id = uuid.uuid4().hex
    value = base64.b64encode(pickle.dumps(_Canary(canary))).decode()
    h = RedisHuey(name, url=url)
    h.storage.put(result_key(task_id), canonical_json({"value": value}))
    h.storage.close()
    shown = _hueyctl(app, "show", task_id, "--app", "app.huey")
    assert shown.returncode == 1, shown
    (line,) = shown.stderr.strip().splitlines()
    assert "result signature is missing" in line and task_id in line
    assert shown.stdout == "" and not canary.exists()
