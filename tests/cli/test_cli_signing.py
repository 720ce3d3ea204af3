"""Issue 12: signed queues. Results are verified before they are decoded (a result
planted in the store never runs code), and keys rotate without downtime."""

from __future__ import annotations

import base64
import pickle
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cli import one_line_error
from support.steps import drain, step

from engine import RedisHuey, chord
from engine.api import Huey
from engine.codec import canonical_json
from engine.consumer import Consumer
from engine.exceptions import ConfigurationError, SignatureError, TaskException
from engine.keys import result_key
from engine.task import Task
from hueyctl.cli import main

KEY = "s3cret-key"


class _Canary:
    """Unpickling this creates the canary file: code chosen by whoever wrote the store."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _planted(canary: Path, *, error: bool = False, sig: str | None = None) -> bytes:
    value = base64.b64encode(pickle.dumps(_Canary(canary))).decode("ascii")
    rec: dict[str, Any] = {"value": value}
    if error:
        rec["error"] = {"error": "boom", "traceback": "x"}
    if sig is not None:
        rec["sig"] = sig
    return canonical_json(rec)


@pytest.fixture
def app(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Huey]:
    """A signed pickle queue, importable as ``signedapp.huey`` for ``--app``."""
    name = f"signed-{uuid.uuid4().hex[:10]}"
    (tmp_path / "signedapp.py").write_text(
        "from engine import RedisHuey\n"
        f"huey = RedisHuey({name!r}, url={redis_url!r}, codec='pickle', signing_key={KEY!r})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("signedapp", None)
    import signedapp  # type: ignore[import-not-found]

    huey: Huey = signedapp.huey
    yield huey
    huey.flush()
    huey.storage.close()
    sys.modules.pop("signedapp", None)


@pytest.mark.parametrize(
    "planted",
    [
        {},  # unsigned
        {"error": True},  # an error record carrying a value
        {"sig": "0" * 64},  # forged signature
    ],
)
def test_a_planted_result_is_refused_and_never_unpickled(
    app: Huey, tmp_path: Path, planted: dict[str, Any]
) -> None:
    canary = tmp_path / "canary"
    task_id = uuid.uuid4().hex
    app.storage.put(result_key(task_id), _planted(canary, **planted))

    with pytest.raises(SignatureError, match="result signature"):
        app.result(task_id, preserve=True)
    r = CliRunner().invoke(main, ["show", task_id, "--app", "signedapp.huey"])
    line = one_line_error(r, 1, "result signature", task_id)
    assert "\n" not in line
    assert not canary.exists()


def test_signed_results_round_trip(app: Huey) -> None:
    task_id = uuid.uuid4().hex
    app.put(task_id, {"a": (1, 2)})
    assert b'"sig":' in (app.storage.peek(result_key(task_id)) or b"")
    assert app.get(task_id, peek=True) == {"a": (1, 2)}
    r = CliRunner().invoke(main, ["show", task_id, "--app", "signedapp.huey"])
    assert r.exit_code == 0, r.output


def test_result_signed_with_another_key_is_refused(redis_url: str) -> None:
    name = f"signed-{uuid.uuid4().hex[:10]}"
    writer = RedisHuey(name, url=redis_url, signing_key="other")
    reader = RedisHuey(name, url=redis_url, signing_key=KEY)
    try:
        writer.put("k", 1)
        with pytest.raises(SignatureError, match="does not match"):
            reader.get("k", peek=True)
    finally:
        writer.flush()
        writer.storage.close()
        reader.storage.close()


def test_unsigned_pickle_queue_warns_once(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    name = f"plain-{uuid.uuid4().hex[:10]}"
    with caplog.at_level("WARNING"):
        a = RedisHuey(name, url=redis_url, codec="pickle")
        b = RedisHuey(name, url=redis_url, codec="pickle")
    warned = [r for r in caplog.records if "without a signing_key" in r.getMessage()]
    assert len(warned) == 1
    a.put("k", {1, 2})
    assert b.get("k") == {1, 2}  # huey's behaviour: unsigned pickle still works
    a.storage.close()
    b.storage.close()


def test_bad_signing_key_is_one_clear_error(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="signing_key"):
        RedisHuey("x", url=redis_url, signing_key=[])
    with pytest.raises(ConfigurationError, match="signing_key"):
        RedisHuey("x", url=redis_url, signing_key=[b"a", 3])  # type: ignore[list-item]


def test_a_worker_signs_the_results_it_writes(app: Huey) -> None:
    @app.task()
    def pair(x: int) -> tuple[int, int]:
        return (x, x)

    @app.task()
    def fail() -> None:
        raise ValueError("no")

    ok, bad = pair(3), fail()
    assert drain(app) == 2
    for res in (ok, bad):
        assert b'"sig":' in (app.storage.peek(result_key(res.id)) or b"")
    assert ok.get(preserve=True) == (3, 3)
    with pytest.raises(TaskException, match="no"):
        bad.get(preserve=True)


# --- item 6: signed queues from the shell, key rotation ---------------------------------------


def _queue(name: str, url: str, key: Any, ran: list[int]) -> Huey:
    h = RedisHuey(name, url=url, signing_key=key)

    @h.task(name="note")
    def note(n: int) -> int:
        ran.append(n)
        return n * 10

    assert list(h.tasks) == [NOTE]
    return h


NOTE = "note"


def test_rotating_the_key_loses_no_task_and_runs_no_unsigned_message(redis_url: str) -> None:
    name = f"rot-{uuid.uuid4().hex[:10]}"
    ran: list[int] = []
    old, new = "old-key", "new-key"
    made: list[Huey] = []

    def q(key: Any) -> Huey:
        made.append(_queue(name, redis_url, key, ran))
        return made[-1]

    try:
        # Before: everyone on the old key.
        p0, w0 = q(old), q(old)
        r1 = p0.enqueue_by_name(NOTE, (1,))
        # Step 1: the new key is added second everywhere (still signing with old), in any
        # order: a process not yet moved and one moved read each other's messages and results.
        p1, w1 = q([old, new]), q([old, new])
        r2 = p1.enqueue_by_name(NOTE, (2,))
        assert drain(w0) == 2 and r1.get() == 10 and r2.get() == 20
        # Step 2: the new key goes first (signs), old second (verifies).
        p2, w2 = q([new, old]), q([new, old])
        r3 = p2.enqueue_by_name(NOTE, (3,))  # signed with new
        r4 = p1.enqueue_by_name(NOTE, (4,))  # a producer not yet moved: signed with old
        assert step(w1) and step(w2) and not step(w2)  # each reads the other key's message
        assert r3.get() == 30 and r4.get() == 40  # results under either key read back
        r5 = p2.enqueue_by_name(NOTE, (5,))
        assert step(w1) and r5.get() == 50  # rolling: an unmoved worker still runs it
        # Step 3, once no old-signed message is waiting: the old key is removed.
        p3, w3 = q(new), q(new)
        r6 = p3.enqueue_by_name(NOTE, (6,))
        late = p0.enqueue_by_name(NOTE, (7,))  # a producer left on the old key
        unsigned = RedisHuey(name, url=redis_url)
        made.append(unsigned)
        unsigned.storage.enqueue([unsigned.encode_message(Task(NOTE, (8,)))])
        assert drain(w3) == 3 and r6.get() == 60  # 3 claimed, 1 ran
        assert sorted(ran) == [1, 2, 3, 4, 5, 6]  # every task once; 7 and 8 never ran
        dead = {d.id: d.error for d in w3.storage.dead_items()}
        assert len(dead) == 2 and late.id in dead
        assert all("signature" in error for error in dead.values())
    finally:
        made[0].flush()
        for h in made:
            h.storage.close()


def test_enqueue_url_onto_a_signed_queue(redis_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    name = f"cli-signed-{uuid.uuid4().hex[:10]}"
    ran: list[int] = []
    worker = _queue(name, redis_url, KEY, ran)
    Consumer(worker, consumer_id="w1").beat(time.time())  # publishes signed: true
    monkeypatch.delenv("HUEYCTL_SIGNING_KEY", raising=False)
    url = ["--url", redis_url, "--queue", name, "--force"]
    try:
        r = CliRunner().invoke(main, ["enqueue", NOTE, "1", *url])
        one_line_error(r, 2, "is signed", "HUEYCTL_SIGNING_KEY", "--signing-key-file")
        assert worker.pending_count() == 0

        key_file = tmp_path / "key"
        key_file.write_text(KEY + "\n")
        r = CliRunner().invoke(
            main, ["enqueue", NOTE, "2", *url, "--signing-key-file", str(key_file)]
        )
        assert r.exit_code == 0, r.output
        monkeypatch.setenv("HUEYCTL_SIGNING_KEY", KEY)
        r = CliRunner().invoke(main, ["enqueue", NOTE, "3", *url])
        assert r.exit_code == 0, r.output
        monkeypatch.setenv("HUEYCTL_SIGNING_KEY", "wrong")
        r = CliRunner().invoke(main, ["enqueue", NOTE, "4", *url])
        assert r.exit_code == 0, r.output  # the store cannot check a key: the worker does
        assert drain(worker) == 3
        assert sorted(ran) == [2, 3]
        (dead,) = worker.storage.dead_items()
        assert "signature does not match" in dead.error

        r = CliRunner().invoke(main, ["enqueue", NOTE, "5", *url, "--signing-key-file", "/nope"])
        one_line_error(r, 2, "--signing-key-file /nope")
    finally:
        worker.flush()
        worker.storage.close()


def test_a_forged_chord_member_result_never_reaches_the_callback(
    app: Huey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[Any] = []

    @app.task()
    def member(n: int) -> int:
        return n

    @app.task()
    def collect(values: list[Any]) -> None:
        got.append(values)

    canary = tmp_path / "canary"
    app.enqueue(chord([member.s(1), member.s(2)], collect.s()))
    assert step(app)  # the first member reports in
    (key,) = [k for k in app.storage.keys("chord:") if k.endswith(":0")]
    app.storage.put(key, _planted(canary))
    with caplog.at_level("ERROR"):
        assert drain(app) == 1  # the second member; the callback is not enqueued
    assert got == [] and not canary.exists()
    assert any("result is refused" in r.getMessage() for r in caplog.records)
