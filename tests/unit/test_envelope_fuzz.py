"""Every entry is data, never a crash: the envelope decoder, driven with random and
mutated records, returns a task or raises CodecError (the one documented decode
error), nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.envelope import Envelope
from engine.exceptions import CodecError
from engine.task import Task

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id", "task", "args", "kwargs", "codec", "eta", "retries", "retry_delay", "retry_backoff",
    "priority", "expires", "timeout", "enqueued_at", "attempt", "chord", "expires_in",
    "defaults", "on_complete", "on_error", "sig", "v",
]  # fmt: skip


def _valid() -> dict[str, Any]:
    env = Envelope()
    task = Task(name="t", args=(1, "x"), kwargs={"k": [1]}, retries=2, timeout=3.0, priority=1)
    task.registered_name = "t"
    rec = json.loads(env.encode(task))
    assert isinstance(rec, dict)
    return rec


def _decode(env: Envelope, data: bytes) -> None:
    try:
        task = env.decode(data)
    except CodecError:
        return
    assert isinstance(task, Task)
    # What the worker does with a decoded task next must not fail on its fields either.
    assert task.retries >= 0 or isinstance(task.retries, int)
    assert task.expires is None or task.expires > float("-inf")
    assert task.timeout is None or float(task.timeout) == task.timeout


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    _decode(Envelope(), data)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_random_json(value: Any) -> None:
    _decode(Envelope(), json.dumps(value).encode())


@settings(max_examples=800, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6))
def test_mutated_records(changes: dict[str, Any]) -> None:
    rec = _valid()
    rec.update(changes)
    _decode(Envelope(), json.dumps(rec).encode())
    _decode(Envelope(signing_key=b"k"), json.dumps(rec).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIELDS), st.binary(max_size=6), st.integers(0, 200))
def test_corrupted_bytes(field: str, junk: bytes, at: int) -> None:
    data = json.dumps(_valid()).encode()
    at = min(at, len(data))
    _decode(Envelope(), data[:at] + junk + data[at:])


@pytest.mark.parametrize(
    "field,value",
    [("timeout", "soon"), ("expires", "never"), ("chord", "x"), ("retries", "3"),
     ("priority", 1.5), ("eta", [1]), ("chord", {"id": 1}), ("retries", True),
     ("timeout", float("inf")), ("on_complete", "x"), ("codec", 5)],
)  # fmt: skip
def test_wrongly_typed_option_is_a_decode_error(field: str, value: Any) -> None:
    rec = _valid()
    rec[field] = value
    with pytest.raises(CodecError):
        Envelope().decode(json.dumps(rec).encode())


def test_deeply_nested_is_a_decode_error() -> None:
    data = b'{"id":"a","task":"t","args":' + b"[" * 100000 + b"]" * 100000 + b"}"
    with pytest.raises(CodecError):
        Envelope().decode(data)
