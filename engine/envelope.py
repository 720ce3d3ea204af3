"""The task envelope: a small JSON record, readable without the application's code.

Wire format (UTF-8 JSON, keys sorted, compact); a plain call is ~80 bytes::

    {"args":[100],"id":"01a2...","task":"tasks.count_beans","v":1}

Always present: ``v`` (format version), ``id``, ``task`` (registered name) and
``args``. Present only when not at their default: ``kwargs`` ({}), ``codec``
("json"), ``eta``, ``retries`` (0), ``retry_delay`` (0), ``retry_backoff`` (0),
``priority`` (0), ``expires`` / ``expires_in`` (absolute / relative expiry),
``timeout``, ``enqueued_at``, ``attempt`` (1), ``chord``, ``defaults`` (false:
apply the worker's registered defaults), ``history`` (the attempts before this one
that failed, newest last, at most ``ATTEMPTS_KEPT``: ``n``, ``at``, ``worker``, ``took``,
``error``), ``retries_given`` (the retries the call started with, set by its first
retry: a dead letter retried by an operator gets them again), ``on_complete`` / ``on_error`` (nested
records of the next pipeline stage and the error handler, without ``v``), and
``sig`` (hex HMAC-SHA256 of the record without ``sig``, only with a key).

``args`` and ``kwargs`` are the payload, encoded by the queue's codec: with the
default typed-JSON codec they are plain JSON (tuples, datetimes ... as tagged
objects); with ``codec="pickle"`` each is a base64 string. Everything else is
plain JSON, so ``hueyctl`` lists and shows tasks on a box without the code.

Evolution: new fields are added with a default and old readers ignore fields
they do not know, so a message written by an older release still loads.
With a signing key, a message whose signature is missing or wrong raises
:class:`SignatureError` before anything in it is decoded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
from collections.abc import Sequence
from typing import Any

from .codec import Codec, canonical_json, get_codec, sign, signing_keys, verify
from .exceptions import CodecError
from .task import CALL_OPTIONS, Task

VERSION = 1

# The fields of a Task written to the record when not at their default: the call's
# options (engine.task.CALL_OPTIONS) and what enqueueing and running stamp on it.
_OPTIONS = (
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
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Task) if f.name in _OPTIONS}
_DEFAULT_VALUES = tuple(_DEFAULTS[name] for name in _OPTIONS)
_options_of = operator.attrgetter(*_OPTIONS)  # task -> its options, in _OPTIONS order
# Each option's key in the record: the field's name, but for the eta (Task.due_at).
_KEYS = tuple("eta" if name == "due_at" else name for name in _OPTIONS)

# What each option must be on the wire (None is always accepted: "not set"). A
# record whose option has another type is malformed: decoding raises CodecError,
# so the worker sets it aside instead of failing on it later, out of reach.
_NUMBER = (int, float)
_TYPES: dict[str, tuple[type, ...]] = {
    "eta": _NUMBER,
    "retries": (int,),
    "retry_delay": _NUMBER,
    "retry_backoff": _NUMBER,
    "priority": (int,),
    "expires": _NUMBER,
    "timeout": _NUMBER,
    "enqueued_at": _NUMBER,
    "attempt": (int,),
    "chord": (dict,),
    "expires_in": _NUMBER,
    "defaults": (bool,),
    "history": (list,),
    "retries_given": (int,),
}
_CHORD_FIELDS = {"id": (str,), "size": (int,), "index": (int,), "callback": (dict,)}


def _check_options(rec: dict[str, Any]) -> None:
    """Raise CodecError naming the first option field of the wrong type."""
    for key, types in _TYPES.items():
        value = rec.get(key)
        if value is None:
            continue
        # bool is an int in Python, never a number option on the wire.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CodecError(
                f"message field {key!r} must be {' or '.join(t.__name__ for t in types)},"
                f" not {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise CodecError(f"message field {key!r} is not a finite number")
    chord = rec.get("chord")
    if chord is not None:
        for key, types in _CHORD_FIELDS.items():
            value = chord.get(key)
            if not isinstance(value, types) or isinstance(value, bool):
                raise CodecError(f"message field 'chord' has no valid {key!r}")
    for key in ("on_complete", "on_error"):
        nested = rec.get(key)
        if nested and not isinstance(nested, dict):
            raise CodecError(f"message field {key!r} must be a task record")


def _check_record(rec: dict[str, Any], depth: int = 0) -> None:
    """Raise CodecError unless ``rec`` (and its pipeline's nested records) has the
    shape of a task record: a task name, an id, options of the right types."""
    if depth > 20:
        raise CodecError("pipeline nested too deep")
    if not isinstance(rec.get("task"), str) or not rec["task"]:
        raise CodecError("no 'task' name")
    if not isinstance(rec.get("id"), str) or not rec["id"]:
        raise CodecError("no 'id'")
    _check_options(rec)
    for key in ("on_complete", "on_error"):
        nested = rec.get(key)
        if nested:
            _check_record(nested, depth + 1)


class Envelope:
    """Encodes tasks for one queue with its codec and optional signing key."""

    def __init__(
        self,
        codec: str | Codec = "json",
        signing_key: bytes | str | Sequence[bytes | str] | None = None,
    ) -> None:
        self.codec = get_codec(codec)
        # A list rotates keys: the first signs, every one verifies.
        self.verify_keys = signing_keys(signing_key)
        self.signing_key = self.verify_keys[0] if self.verify_keys else None

    # --- encode ---------------------------------------------------------------
    def record(self, task: Task) -> dict[str, Any]:
        """The JSON record of a task. Options still at their default are left out
        (readers fill them in), which keeps every message small."""
        rec: dict[str, Any] = {
            "id": task.id,
            "task": task.registered_name,
            "args": self.codec.encode(list(task.args)),
        }
        if self.codec.name != "json":
            rec["codec"] = self.codec.name
        if task.kwargs:
            rec["kwargs"] = self.codec.encode(task.kwargs)
        if task.on_complete:
            rec["on_complete"] = self.record(task.on_complete)
        if task.on_error:
            rec["on_error"] = self.record(task.on_error)
        values = _options_of(task)
        for key, value, default in zip(_KEYS, values, _DEFAULT_VALUES, strict=True):
            if value != default:
                rec[key] = value
        return rec

    def encode(self, task: Task) -> bytes:
        rec = self.record(task)
        rec["v"] = VERSION
        if self.signing_key is not None:
            rec["sig"] = sign(self.signing_key, canonical_json(rec))
        return canonical_json(rec)

    def reseal(self, rec: Any) -> tuple[str, bytes, int]:
        """A task record brought from outside the store (a dead letter exported by
        ``hueyctl failed --export``, replayed by ``enqueue --from``) as a message of
        this queue: ``(id, data, priority)``.

        The record is checked as a worker checks one (CodecError names what is
        wrong), a ``sig`` it carries is dropped, never trusted, and the record is
        signed with this queue's key when it has one. The payload stays as it was
        encoded (never decoded, so a pickled one is never unpickled here): args,
        kwargs and every option keep their exact values.
        """
        if not isinstance(rec, dict):
            raise CodecError("not a task record (not a JSON object)")
        rec = {k: v for k, v in rec.items() if k not in ("sig", "v")}
        _check_record(rec)
        codec = rec.get("codec", "json")
        if codec not in ("json", self.codec.name):
            raise CodecError(
                f"the record uses the {codec!r} codec but this queue uses {self.codec.name!r}"
            )
        rec["v"] = VERSION
        if self.signing_key is not None:
            rec["sig"] = sign(self.signing_key, canonical_json(rec))
        return rec["id"], canonical_json(rec), int(rec.get("priority") or 0)

    # --- decode ---------------------------------------------------------------------
    def load(self, data: bytes) -> dict[str, Any]:
        """Parse and verify a message without decoding its payload."""
        try:
            rec = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CodecError(f"message is not JSON: {exc}") from exc
        if not isinstance(rec, dict) or not isinstance(rec.get("task"), str):
            raise CodecError("message is not a task envelope (no 'task' field)")
        if not isinstance(rec.get("id"), str):
            raise CodecError("message is not a task envelope (no 'id' field)")
        if self.signing_key is not None:
            sig = rec.pop("sig", None)
            verify(self.verify_keys, canonical_json(rec), sig)
        return rec

    def decode(self, data: bytes) -> Task:
        """The task of a message; raises CodecError (SignatureError) and nothing else
        for any input: an entry read from the store is data, never a crash."""
        try:
            return self.task(self.load(data))
        except CodecError:
            raise
        except Exception as exc:  # a payload the codec chokes on, a nesting too deep ...
            raise CodecError(f"message cannot be decoded: {type(exc).__name__}: {exc}") from exc

    def task(self, rec: dict[str, Any]) -> Task:
        """The task of a parsed record; CodecError when any field has the wrong shape
        (the one documented decode error: a caller sets the message aside)."""
        if not isinstance(rec, dict):
            raise CodecError("message is not a task envelope (not an object)")
        if not isinstance(rec.get("task"), str) or not isinstance(rec.get("id"), str):
            raise CodecError("message is not a task envelope (no 'task' or 'id' field)")
        _check_options(rec)
        codec = self.codec
        name = rec.get("codec", "json")
        if not isinstance(name, str):
            raise CodecError("message field 'codec' must be a codec's name")
        if name != codec.name:
            # Typed JSON is always safe to read; anything else (pickle) only when opted in.
            if name != "json":
                raise CodecError(
                    f"message uses the {name!r} codec but this queue uses {codec.name!r}: "
                    f"set codec={name!r} on the queue to accept it"
                )
            codec = get_codec("json")
        args = codec.decode(rec.get("args", []))
        kwargs = codec.decode(rec["kwargs"]) if "kwargs" in rec else {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise CodecError("message args must be a list and kwargs a mapping")
        task = Task(name=rec["task"], args=tuple(args), kwargs=kwargs, id=str(rec["id"]))
        for name, key in zip(_OPTIONS, _KEYS, strict=True):
            if rec.get(key) is not None:
                setattr(task, name, rec[key])
        if rec.get("on_complete"):
            task.on_complete = self.task(rec["on_complete"])
        if rec.get("on_error"):
            task.on_error = self.task(rec["on_error"])
        return task


def describe(data: bytes) -> dict[str, Any]:
    """Best-effort view of a message for inspection: never raises, never unpickles."""
    try:
        rec = json.loads(data)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
        return rec
    except (ValueError, UnicodeDecodeError) as exc:
        return {"task": "?", "error": f"unreadable message: {exc}", "raw": data[:200].hex()}
