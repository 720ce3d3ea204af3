"""Issue 12: signed queues. Results are verified before they are decoded (a result
planted in the store never runs code), and keys rotate without downtime."""

from __future__ import annotations

import base64
import pickle
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.cli import one_line_error
from support.steps import drain

from engine import RedisHuey
from engine.api import Huey
from engine.codec import canonical_json
from engine.exceptions import ConfigurationError, SignatureError, TaskException
from engine.keys import result_key
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


def test_unsigned_pickle_queue_warns_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
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
