"""Every entry is data, never a crash: the envelope decoder, driven with random and
mutated records (readable records and packed bodies), returns a task or raises
CodecError (the one documented decode error), nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.envelope import Envelope, readable
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
    rec = env.load(env.encode(task), task.id)
    assert isinstance(rec, dict)
    return rec


def _packed() -> list[Any]:
    task = Task(name="t", args=(1, "x"), kwargs={"k": [1]}, retries=2, timeout=3.0, priority=1)
    task.enqueued_at = 1.5
    body = json.loads(Envelope().encode(task))
    assert isinstance(body, list)
    return body


def _decode(env: Envelope, data: bytes, task_id: str = "id-1") -> None:
    readable(data, task_id)  # never raises either
    try:
        task = env.decode(data, task_id)
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


@settings(max_examples=400, deadline=None)
@given(st.lists(JSON, max_size=5))
def test_random_arrays(value: list[Any]) -> None:
    _decode(Envelope(), json.dumps(value).encode())
    _decode(Envelope(signing_key=b"k"), json.dumps(value).encode())


@settings(max_examples=600, deadline=None)
@given(st.integers(0, 4), JSON, st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4))
def test_mutated_packed_bodies(slot: int, value: Any, changes: dict[str, Any]) -> None:
    body = _packed()
    if slot < 4:
        body[slot] = value
    else:
        body = body[:3]
    if len(body) == 4 and isinstance(body[3], dict):
        body[3].update(changes)
    _decode(Envelope(), json.dumps(body).encode())
    _decode(Envelope(signing_key=b"k"), json.dumps(body).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=6), st.integers(0, 200))
def test_corrupted_packed_bytes(junk: bytes, at: int) -> None:
    data = json.dumps(_packed()).encode()
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
        Envelope().decode(json.dumps(rec).encode(), rec["id"])
    body = _packed()
    body[3][field] = value
    with pytest.raises(CodecError):
        Envelope().decode(json.dumps(body).encode(), "id-1")


@pytest.mark.parametrize("at", ["soon", True, float("inf"), [1]])
def test_wrongly_typed_enqueued_at_is_a_decode_error(at: Any) -> None:
    for body in (["t", [1], at], ["t", [1], at, {"retries": 1}]):
        with pytest.raises(CodecError):
            Envelope().decode(json.dumps(body).encode(), "id-1")


# Not the shape of a packed body at all: decode refuses, readable() shows "?".
NOT_A_BODY = [
    [], ["t"], ["t", [], 1, {}, 5], [3, "t", []], [None, []], ["t", [], 1, []],
    ["t", [], 1, {"id": "x"}], ["t", [], 1, {"task": "u"}], ["t", [], None, {"enqueued_at": 1}],
    ["t", [], 1, {"args": []}], ["t", [], 1, {"v": 2}],
]  # fmt: skip


@pytest.mark.parametrize("body", NOT_A_BODY + [["t", {}], ["t", "x", 1]])
def test_malformed_packed_body_is_a_decode_error(body: list[Any]) -> None:
    with pytest.raises(CodecError):
        Envelope().decode(json.dumps(body).encode(), "id-1")
    shown = readable(json.dumps(body).encode(), "id-1")  # never raises
    assert (shown["task"] == "?") == (body in NOT_A_BODY)


def test_a_newer_form_is_refused_by_name() -> None:
    with pytest.raises(CodecError, match="newer release"):
        Envelope().decode(b'[3,"t",[]]', "id-1")


def test_deeply_nested_is_a_decode_error() -> None:
    data = b'{"id":"a","task":"t","args":' + b"[" * 100000 + b"]" * 100000 + b"}"
    with pytest.raises(CodecError):
        Envelope().decode(data, "a")
    data = b'["t",' + b"[" * 100000 + b"]" * 100000 + b"]"
    with pytest.raises(CodecError):
        Envelope().decode(data, "a")
