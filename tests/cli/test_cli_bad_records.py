"""Admin views survive bad records (issue 12, item 5): a malformed dead letter is
listed under its real store id as "unreadable: <reason>", can be shown and deleted,
and a retry is refused with the reason; ``failed``, ``show`` and top's reads never
fail with an internal error."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from support.cli import Queue, register
from support.redis_keys import put_body

from engine import RedisHuey
from engine.inspect import UNREADABLE, Inspector
from hueyctl.tui.actions import Actions, Target

BAD = {
    "deep": b'{"task": "tasks.add", "id": "x", "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "priority": json.dumps({"task": "tasks.add", "id": "?", "priority": "high"}).encode(),
    "garbage": b"\xff\xfe\x00garbage\x80",
    "lying-id": json.dumps({"task": 7, "id": "someone-else"}).encode(),
    "eta": json.dumps({"task": "tasks.add", "eta": "tomorrow"}).encode(),
}


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    huey = RedisHuey(f"bad-{uuid.uuid4().hex[:12]}", url=redis_url)
    register(huey)
    yield Queue(huey, redis_url, "redis")
    huey.flush()
    huey.storage.close()


def plant(q: Queue, body: bytes) -> str:
    """A dead letter whose stored body is then replaced by ``body``."""
    task_id = q.dead()
    client = redis.Redis.from_url(q.url)
    assert put_body(client, q.huey.name, task_id, body) == 1
    client.close()
    return task_id


@pytest.mark.parametrize("kind", sorted(BAD))
def test_malformed_dead_letter_is_listed_shown_refused_and_deleted(q: Queue, kind: str) -> None:
    good = q.dead()
    bad = plant(q, BAD[kind])
    listed = {t["id"]: t for t in q.json("failed")}
    assert set(listed) == {good, bad}
    assert listed[bad]["name"].startswith(UNREADABLE), listed[bad]
    assert listed[good]["name"] == "tasks.boom"
    text = q.ok("failed").stdout
    assert bad in text and "unreadable" in text
    shown = q.ok("show", bad).stdout
    assert bad in shown and "unreadable" in shown
    r = q.cli("retry", bad)
    assert r.exit_code == 1 and "unreadable" in r.stderr and "Traceback" not in r.output
    assert q.huey.storage.locate(bad).state == "dead"  # nothing changed
    ins = Inspector(q.huey)  # what top's Failed tab reads
    assert {i.id for i in ins.failed()} == {good, bad}
    assert ins.task(bad) is not None
    msg = Actions(q.huey).retry(Target(task_id=bad, name=ins.task(bad).name, state="dead"))
    assert "not retried" in msg
    q.ok("delete", bad, "--yes")
    assert q.huey.storage.locate(bad) is None
    assert [t["id"] for t in q.json("failed")] == [good]


def test_retry_all_leaves_unreadable_dead_letters(q: Queue) -> None:
    good = q.dead()
    bad = plant(q, BAD["garbage"])
    q.ok("retry", "--all", "--yes")
    assert q.huey.storage.locate(good).state == "ready"
    assert q.huey.storage.locate(bad).state == "dead"
