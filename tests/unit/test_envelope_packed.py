"""The packed body (engine/envelope.py): every task round-trips through it, its readable
record is byte for byte the record the previous release stored for the same task (so
``show`` and exports print what they printed), bodies in that readable form still load,
and a signature covers the id the store keeps the body under."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.codec import canonical_json, sign, verify
from engine.envelope import Envelope, readable, repack
from engine.exceptions import SignatureError
from engine.task import CALL_OPTIONS, Task

# --- the previous release's encoder, kept verbatim as the reference --------------------------

_OLD_OPTIONS = (
    "due_at",
    *CALL_OPTIONS,
    "enqueued_at",
    "attempt",
    "chord",
    "expires_in",
    "defaults",
    "history",
    "retries_given",
)
_OLD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Task) if f.name in _OLD_OPTIONS}


def _old_record(env: Envelope, task: Task) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": task.id,
        "task": task.registered_name,
        "args": env.codec.encode(list(task.args)),
    }
    if env.codec.name != "json":
        rec["codec"] = env.codec.name
    if task.kwargs:
        rec["kwargs"] = env.codec.encode(task.kwargs)
    if task.on_complete:
        rec["on_complete"] = _old_record(env, task.on_complete)
    if task.on_error:
        rec["on_error"] = _old_record(env, task.on_error)
    for name in _OLD_OPTIONS:
        value = getattr(task, name)
        if value != _OLD_DEFAULTS[name]:
            rec["eta" if name == "due_at" else name] = value
    return rec


def old_encode(env: Envelope, task: Task) -> bytes:
    """What the previous release stored for ``task`` (the readable record, version 1)."""
    rec = _old_record(env, task)
    rec["v"] = 1
    if env.signing_key is not None:
        rec["sig"] = sign(env.signing_key, canonical_json(rec))
    return canonical_json(rec)


# --- strategies ---------------------------------------------------------------------------

ZONES = st.sampled_from(
    [
        None,
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
    ]
)
HASHABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.binary(max_size=6)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.uuids()
    | st.datetimes(timezones=ZONES)
    | st.dates()
    | st.timedeltas(),
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
VALUES = st.recursive(
    HASHABLE,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | st.dictionaries(HASHABLE, inner, max_size=3)  # non-str keys: the $dict tag
        | st.sets(HASHABLE, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
    ),
    max_leaves=10,
)
NAMES = st.sampled_from(["noop", "tasks.count_beans", "app.jobs.Übung", "x"])
IDS = st.uuids().map(str) | st.text(min_size=1, max_size=30)
TIMES = st.floats(min_value=0, max_value=4e9, allow_nan=False)
SECONDS = st.integers(0, 10**6) | st.floats(0, 1e6, allow_nan=False)
HISTORY = st.lists(
    st.fixed_dictionaries(
        {"n": st.integers(1, 9), "at": TIMES, "worker": st.text(max_size=8), "took": TIMES},
        optional={"error": st.text(max_size=20)},
    ),
    min_size=1,
    max_size=3,
)


def _options(draw: st.DrawFn) -> dict[str, Any]:
    """Each option set or at its default (independently)."""
    choices: dict[str, st.SearchStrategy[Any]] = {
        "due_at": TIMES,
        "retries": st.integers(0, 50),
        "retry_delay": SECONDS,
        "retry_backoff": SECONDS,
        "priority": st.integers(-(10**6), 10**6),
        "expires": TIMES,
        "timeout": SECONDS,
        "enqueued_at": TIMES,
        "attempt": st.integers(1, 20),
        "expires_in": SECONDS,
        "defaults": st.booleans(),
        "history": HISTORY,
        "retries_given": st.integers(0, 50),
    }
    return {k: draw(s) for k, s in choices.items() if draw(st.booleans())}


@st.composite
def tasks(draw: st.DrawFn, depth: int = 0) -> Task:
    task = Task(
        name=draw(NAMES),
        args=tuple(draw(st.lists(VALUES, max_size=4))),
        kwargs=draw(st.dictionaries(st.text(max_size=6), VALUES, max_size=3)),
        id=draw(IDS),
        **_options(draw),
    )
    if depth < 2 and draw(st.booleans()):
        task.on_complete = draw(tasks(depth + 1))
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        task.on_error = draw(tasks(depth + 1))
    if depth == 0 and draw(st.integers(0, 3)) == 0:
        callback = Task(name="tasks.cb", args=(draw(VALUES),), id=draw(IDS))
        task.chord = {
            "id": draw(IDS),
            "size": draw(st.integers(1, 100)),
            "index": draw(st.integers(0, 99)),
            "callback": Envelope().record(callback),
        }
    return task


ENVELOPES = st.sampled_from(
    [Envelope(), Envelope(codec="pickle"), Envelope(signing_key=b"k" * 32),
     Envelope(codec="pickle", signing_key=[b"new", b"old"])]
)  # fmt: skip
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=120)


def same(a: Task, b: Task) -> None:
    assert a == b
    assert a.expires_in == b.expires_in
    for x, y in ((a.on_complete, b.on_complete), (a.on_error, b.on_error)):
        if x is not None and y is not None:
            same(x, y)


# --- properties ---------------------------------------------------------------------------


@SETTINGS
@given(ENVELOPES, tasks())
def test_decode_encode_is_the_task(env: Envelope, task: Task) -> None:
    data = env.encode(task)
    assert data.startswith(b"[")
    same(env.decode(data, task.id), task)


@SETTINGS
@given(ENVELOPES, tasks())
def test_readable_is_the_previous_releases_record_byte_for_byte(env: Envelope, task: Task) -> None:
    data = env.encode(task)
    old = old_encode(env, task)
    assert canonical_json(readable(data, task.id)) == old
    assert readable(data, task.id) == json.loads(old)
    assert list(readable(data, task.id)) == list(json.loads(old))  # key order too
    assert env.load(data, task.id) == env.load(old, task.id)


@FEWER
@given(ENVELOPES, tasks())
def test_bodies_of_the_previous_release_still_decode(env: Envelope, task: Task) -> None:
    old = old_encode(env, task)
    same(env.decode(old, task.id), task)
    assert readable(old, task.id) == json.loads(old)


@FEWER
@given(st.sampled_from([Envelope(), Envelope(signing_key=b"key")]), tasks())
def test_reseal_of_an_exported_record_keeps_it(env: Envelope, task: Task) -> None:
    exported = {k: v for k, v in json.loads(old_encode(env, task)).items() if k not in ("sig", "v")}
    task_id, data, priority = env.reseal(exported)
    assert (task_id, priority) == (task.id, task.priority)
    assert data.startswith(b"[")
    assert canonical_json(readable(data, task_id)) == old_encode(env, task)
    same(env.decode(data, task_id), task)


@FEWER
@given(tasks(), IDS)
def test_a_signed_body_moved_to_another_id_fails_verification(task: Task, other: str) -> None:
    env = Envelope(signing_key=b"k" * 32)
    for data in (env.encode(task), old_encode(env, task)):
        rec = readable(data, task.id)
        sig = rec.pop("sig")
        verify(env.verify_keys, canonical_json(rec), sig)  # the id is covered
        if other != task.id:
            with pytest.raises(SignatureError):
                env.decode(data, other)
            with pytest.raises(SignatureError):
                env.load(data, other)


# --- examples -------------------------------------------------------------------------------

ID = "01a234f2-6504-7000-b16e-1e2a6a9f72cb"
AT = 1796184630.5322294


def test_a_small_call_is_at_most_64_bytes() -> None:
    env = Envelope()
    task = Task(name="noop", args=(0, "x"), id=ID, enqueued_at=AT)
    assert env.encode(task) == b'["noop",[0,"x"],1796184630.5322294]'
    for i in (0, 19_999, 10**6):
        task = Task(name="noop", args=(i, "x"), id=ID, enqueued_at=AT)
        assert len(env.encode(task)) <= 64
        assert len(old_encode(env, task)) > 110
    task = Task(name="tasks.count_beans", args=(100,), id=ID, enqueued_at=AT)
    assert len(env.encode(task)) <= 64


def test_the_packed_forms() -> None:
    env = Envelope()
    assert env.encode(Task(name="t", id=ID)) == b'["t",[]]'
    assert env.encode(Task(name="t", id=ID, priority=2)) == b'["t",[],null,{"priority":2}]'
    call = Task(name="t", args=(1,), kwargs={"b": 2, "a": 1}, id=ID, enqueued_at=1.5, retries=3)
    assert env.encode(call) == b'["t",[1],1.5,{"kwargs":{"a":1,"b":2},"retries":3}]'
    for data in (b'["t",[]]', b'["t",[],null]', b'["t",[],null,{}]'):
        assert env.decode(data, ID) == Task(name="t", id=ID)
        assert readable(data, ID) == {"args": [], "id": ID, "task": "t", "v": 1}


def test_a_signed_body_is_verified_against_its_readable_record() -> None:
    env = Envelope(signing_key=b"secret")
    task = Task(name="t", args=(1,), id=ID, enqueued_at=AT)
    data = env.encode(task)
    body = json.loads(data)
    assert body[:3] == ["t", [1], AT] and set(body[3]) == {"sig"}
    # The signature is the one the readable record carries (same as the previous release).
    assert body[3]["sig"] == json.loads(old_encode(env, task))["sig"]
    assert env.decode(data, ID) == task
    with pytest.raises(SignatureError):
        env.decode(data, ID[:-1] + "0")  # moved to another id
    with pytest.raises(SignatureError):
        Envelope(signing_key=b"other").decode(data, ID)
    with pytest.raises(SignatureError, match="missing"):
        env.decode(Envelope().encode(task), ID)  # unsigned
    tampered = json.dumps(["t", [2], AT, body[3]]).encode()
    with pytest.raises(SignatureError):
        env.decode(tampered, ID)
    # An unsigned queue reads a signed body (as it always has).
    assert Envelope().decode(data, ID) == task


def test_a_readable_body_under_another_id_is_refused_with_a_key() -> None:
    env = Envelope(signing_key=b"secret")
    task = Task(name="t", id=ID)
    with pytest.raises(SignatureError, match="stored under"):
        env.decode(old_encode(env, task), "another")


def test_typed_arguments_example() -> None:
    env = Envelope()
    args = (
        (1, "a"),
        dt.datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=dt.UTC),
        Decimal("12.50"),
        uuid.UUID(int=12345),
        b"\x00\x01",
        {3, 1, 2},
        frozenset({"a"}),
        {1: "int key"},
        [{"$x": 1}],
    )
    task = Task(name="t", args=args, kwargs={"when": dt.date(2026, 1, 2)}, id=ID)
    assert env.decode(env.encode(task), ID) == task
    assert canonical_json(readable(env.encode(task), ID)) == old_encode(env, task)


@FEWER
@given(ENVELOPES, tasks())
def test_repack_of_a_previous_release_body_is_the_packed_body(env: Envelope, task: Task) -> None:
    old = old_encode(env, task)
    packed = repack(old, task.id)
    assert packed == env.encode(task)  # the signature kept: no key needed
    same(env.decode(packed, task.id), task)


def test_repack_refuses_what_it_cannot_repack_exactly() -> None:
    env = Envelope()
    task = Task(name="t", args=(1,), id=ID)
    old = old_encode(env, task)
    assert repack(old, "another id") is None
    assert repack(old.replace(b'"v":1', b'"v":2'), ID) is None
    assert repack(b'{"args": [1], "id": "%s", "task": "t", "v": 1}' % ID.encode(), ID) is None
    assert repack(env.encode(task), ID) is None  # packed already
    assert repack(b"{not json", ID) is None
    assert repack(b'{"id":"%s","task":"t","v":1}' % ID.encode(), ID) is None  # no args
