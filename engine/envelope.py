"""The task envelope: how a task is stored (packed) and how it is shown (readable).

Two forms of the same record
----------------------------

**Readable record** (version 1: what ``hueyctl show``, ``--json`` listings, exports,
the TUI and every other place that shows a task print; also what older releases
stored). UTF-8 JSON, keys sorted, compact::

    {"args":[0,"x"],"enqueued_at":1796184630.5322294,"id":"01a2...","task":"noop","v":1}

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

**Packed body** (what :meth:`Envelope.encode` writes and every store keeps). The
same fields as a JSON array, canonical JSON like the record::

    [task, args, enqueued_at, options]
    ["noop",[0,"x"],1796184630.5322294]                                   35 bytes
    ["noop",[7,"x"],1796184630.5,{"kwargs":{"n":2},"priority":5,"retries":3}]

``task``, ``args`` and ``enqueued_at`` are the record's fields by position.
``options`` is an object holding every other field of the record that is set,
under the record's own key names (``kwargs``, ``eta``, ``retries``, ``sig``, ...;
``on_complete`` / ``on_error`` / ``chord.callback`` stay nested *readable* records,
with their ids). Trailing parts are left out: ``options`` when empty, then
``enqueued_at`` when null. The ``id`` and ``v`` are not in the body: every store
hands a body out beside its id (the hash field, the row's key), and the array form
*is* the version. ``options`` never holds ``id``, ``task``, ``args``, ``v`` or
``enqueued_at`` (a body that does is malformed).

Why: a pending task's bytes are mostly its body. The readable record repeats the id
(the store's key already) and spells every key; the packed body of a small call is
≤ 64 bytes, so Redis keeps it in a listpack-encoded bucket and SQLite in fewer
pages. Only machines read bodies: :func:`readable` turns any body back into the
readable record, byte for byte the record an older release would have written for
the same task (``canonical_json(readable(encode(t), t.id))``), so nothing an
operator sees changed.

Reading: :meth:`Envelope.decode` / :meth:`Envelope.load` take the body *and the id
the store gave with it*, and accept both forms (a JSON array: packed; a JSON object:
a readable record written by an older release, or by ``enqueue --from`` of one).
:func:`repack` turns such a stored readable body into the packed body without the
key (its ``sig`` stays valid: it signs the readable record), for a migration.

Signatures cover the id: ``sig`` is the HMAC of the *readable* record without
``sig``, rebuilt with the store's id, so it is the same ``sig`` the readable form
carries, and a body moved to another id fails verification. (A readable-form body
whose own ``id`` differs from the store's also fails, with a key.)

Evolution rule: the meaning of positions 0-3 never changes. A new field is added
to ``options`` with a default (and to the readable record under the same key);
older readers ignore option keys they do not know, as they ignore unknown record
keys. A change an older reader must not misread starts a new form whose first
element is not a string (an integer form number, e.g. ``[3, ...]``): today's reader
refuses it as written by a newer release, so it is set aside, never run wrongly.

``args`` and ``kwargs`` are the payload, encoded by the queue's codec: with the
default typed-JSON codec they are plain JSON (tuples, datetimes ... as tagged
objects); with ``codec="pickle"`` each is a base64 string. Everything else is
plain JSON, so ``hueyctl`` lists and shows tasks on a box without the code.

With a signing key, a message whose signature is missing or wrong raises
:class:`SignatureError` before anything in it is decoded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from .codec import Codec, JsonCodec, canonical_json, get_codec, sign, signing_keys, verify
from .exceptions import CodecError, SignatureError
from .task import CALL_OPTIONS, Task

VERSION = 1  # the readable record's version (its "v"); a packed body is the array form

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
# The packed body's options object: the same, without enqueued_at (position 2).
_PACKED = tuple(name for name in _OPTIONS if name != "enqueued_at")
_PACKED_KEYS = tuple("eta" if name == "due_at" else name for name in _PACKED)
_PACKED_DEFAULTS = tuple(_DEFAULTS[name] for name in _PACKED)
_packed_options_of = operator.attrgetter(*_PACKED)
# Record keys a packed body carries by position or not at all, never in its options.
_POSITIONAL = frozenset(("id", "task", "args", "v", "enqueued_at"))
_JSON = JsonCodec()

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
# Option keys a packed body's options may hold for the direct decode (anything else,
# nested records, a chord, another codec, a future field, goes the record's way).
_FIELD_OF = {key: name for key, name in zip(_KEYS, _OPTIONS, strict=True) if key != "chord"}
_DIRECT = frozenset((*_FIELD_OF, "kwargs", "sig")) - {"enqueued_at"}
_CHORD_FIELDS = {"id": (str,), "size": (int,), "index": (int,), "callback": (dict,)}


def _check_option(key: str, value: Any) -> None:
    """Raise CodecError unless option ``key`` (set: not None) has the right type."""
    types = _TYPES[key]
    # bool is an int in Python, never a number option on the wire.
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise CodecError(
            f"message field {key!r} must be {' or '.join(t.__name__ for t in types)},"
            f" not {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"message field {key!r} is not a finite number")


def _check_options(rec: dict[str, Any]) -> None:
    """Raise CodecError naming the first option field of the wrong type."""
    for key in _TYPES:
        value = rec.get(key)
        if value is not None:
            _check_option(key, value)
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
        self._plain = self.codec.name == "json"

    # --- encode ---------------------------------------------------------------
    def record(self, task: Task) -> dict[str, Any]:
        """The readable record of a task (without ``v`` and ``sig``). Options still at
        their default are left out (readers fill them in)."""
        rec: dict[str, Any] = {
            "id": task.id,
            "task": task.registered_name,
            "args": self.codec.encode(list(task.args)),
        }
        if not self._plain:
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
        """The packed body of a task (see the module docstring), built straight from
        the task; signed over its readable record when the queue has a key."""
        if self.signing_key is not None:
            rec = self.record(task)
            rec["v"] = VERSION
            rec["sig"] = sign(self.signing_key, canonical_json(rec))
            return canonical_json(_pack(rec))
        codec = self.codec
        body: list[Any] = [task.registered_name, codec.encode(list(task.args)), task.enqueued_at]
        values = _packed_options_of(task)
        if (
            values == _PACKED_DEFAULTS
            and not task.kwargs
            and self._plain
            and not task.on_complete
            and not task.on_error
        ):
            if body[2] is None:
                del body[2]
            return canonical_json(body)
        options: dict[str, Any] = {}
        if not self._plain:
            options["codec"] = codec.name
        if task.kwargs:
            options["kwargs"] = codec.encode(task.kwargs)
        if task.on_complete:
            options["on_complete"] = self.record(task.on_complete)
        if task.on_error:
            options["on_error"] = self.record(task.on_error)
        for key, value, default in zip(_PACKED_KEYS, values, _PACKED_DEFAULTS, strict=True):
            if value != default:
                options[key] = value
        if options:
            body.append(options)
        elif body[2] is None:
            del body[2]
        return canonical_json(body)

    def reseal(self, rec: Any) -> tuple[str, bytes, int]:
        """A task record brought from outside the store (a dead letter exported by
        ``hueyctl failed --export``, replayed by ``enqueue --from``) as a message of
        this queue: ``(id, data, priority)``, the data a packed body.

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
        # What a packed body cannot tell apart from absent is written absent.
        rec.setdefault("args", [])
        if rec.get("enqueued_at") is None:
            rec.pop("enqueued_at", None)
        rec["v"] = VERSION
        if self.signing_key is not None:
            rec["sig"] = sign(self.signing_key, canonical_json(rec))
        return rec["id"], canonical_json(_pack(rec)), int(rec.get("priority") or 0)

    # --- decode ---------------------------------------------------------------------
    def load(self, data: bytes, task_id: str) -> dict[str, Any]:
        """The readable record of a body stored under ``task_id`` (either form),
        verified with the queue's key, without decoding its payload."""
        return self._verified(_parse(data), task_id)

    def _verified(self, obj: Any, task_id: str) -> dict[str, Any]:
        if type(obj) is list:
            rec = _unpack(obj, task_id)
        elif not isinstance(obj, dict) or not isinstance(obj.get("task"), str):
            raise CodecError("message is not a task envelope (no 'task' field)")
        elif not isinstance(obj.get("id"), str):
            raise CodecError("message is not a task envelope (no 'id' field)")
        else:
            rec = obj
        if self.signing_key is not None:
            sig = rec.pop("sig", None)
            verify(self.verify_keys, canonical_json(rec), sig)
            if rec["id"] != task_id:
                raise SignatureError(
                    f"message signed for task {rec['id']!r} is stored under {task_id!r}"
                )
        return rec

    def decode(self, data: bytes, task_id: str) -> Task:
        """The task of a body stored under ``task_id`` (a packed body or a readable
        record); raises CodecError (SignatureError) and nothing else for any input:
        an entry read from the store is data, never a crash."""
        try:
            obj = _parse(data)
            if type(obj) is list and self.signing_key is None:
                return self._unpacked(obj, task_id)
            return self.task(self._verified(obj, task_id))
        except CodecError:
            raise
        except Exception as exc:  # a payload the codec chokes on, a nesting too deep ...
            raise CodecError(f"message cannot be decoded: {type(exc).__name__}: {exc}") from exc

    def _unpacked(self, body: list[Any], task_id: str) -> Task:
        """The task of an unsigned packed body, read without building its record."""
        n = len(body)
        options = body[3] if n == 4 else None
        if (
            not 2 <= n <= 4
            or type(body[0]) is not str
            or (
                options is not None
                and (type(options) is not dict or not _DIRECT.issuperset(options))
            )
        ):
            return self.task(_unpack(body, task_id))  # the general way (or an error to name)
        at = body[2] if n > 2 else None
        if at is not None and not _number(at):
            raise CodecError("message field 'enqueued_at' must be a finite number")
        codec = self.codec if self._plain else _JSON
        args = codec.decode(body[1])
        if not isinstance(args, list):
            raise CodecError("message args must be a list and kwargs a mapping")
        task = Task(name=body[0], args=tuple(args), id=task_id, enqueued_at=at)
        if options:
            for key, value in options.items():
                name = _FIELD_OF.get(key)
                if name is not None and value is not None:
                    _check_option(key, value)
                    setattr(task, name, value)
            if "kwargs" in options:
                kwargs = codec.decode(options["kwargs"])
                if not isinstance(kwargs, dict):
                    raise CodecError("message args must be a list and kwargs a mapping")
                task.kwargs = kwargs
        return task

    def task(self, rec: dict[str, Any]) -> Task:
        """The task of a readable record; CodecError when any field has the wrong shape
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
            codec = _JSON
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


def _number(value: Any) -> bool:
    """A finite int or float, not a bool: what a time on the wire must be."""
    t = type(value)
    return t is int or (t is float and math.isfinite(value))


def _unpack(body: list[Any], task_id: str) -> dict[str, Any]:
    """The readable record of a packed body stored under ``task_id``; CodecError when
    the array is not a packed body."""
    n = len(body)
    if not 2 <= n <= 4:
        raise CodecError(f"message is not a task envelope (an array of {n} items)")
    name = body[0]
    if type(name) is not str:
        if type(name) is int:
            raise CodecError(
                f"message is not a task body of this release (an array starting with {name}:"
                " a newer release's form?)"
            )
        raise CodecError("message is not a task envelope (no task name)")
    options = body[3] if n == 4 else {}
    if type(options) is not dict:
        raise CodecError("message options must be an object")
    if not _POSITIONAL.isdisjoint(options):
        raise CodecError("message options hold a field that has a place of its own")
    rec = {**options, "task": name, "args": body[1], "id": task_id, "v": VERSION}
    if n > 2 and body[2] is not None:
        rec["enqueued_at"] = body[2]
    return rec


def _pack(rec: dict[str, Any]) -> list[Any]:
    """The packed body of a readable record (``id`` and ``v`` dropped: the store keeps
    the id beside the body). Nothing in it is decoded or re-encoded."""
    options = {k: v for k, v in rec.items() if k not in _POSITIONAL}
    body: list[Any] = [rec["task"], rec.get("args", [])]
    if options:
        body += [rec.get("enqueued_at"), options]
    elif rec.get("enqueued_at") is not None:
        body.append(rec["enqueued_at"])
    return body


# The C scanner ``json.loads`` ends in. A body as written here is compact UTF-8 JSON:
# scanned straight, it skips ``json.loads``' encoding sniffing and its two whitespace
# matches (about half its cost on a small body, paid once per task by the worker).
_scan: Callable[[str, int], tuple[Any, int]]
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


def _parse(data: bytes) -> Any:
    if type(data) is bytes:
        try:
            text = data.decode()
            obj, end = _scan(text, 0)
            if end == len(text):
                return obj
        except (ValueError, StopIteration, RecursionError):
            pass  # not plain compact UTF-8 JSON: json.loads accepts or names it
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"message is not JSON: {exc}") from exc


def readable(data: bytes, task_id: str) -> dict[str, Any]:
    """The readable record of a stored body, whichever form it is in, for showing and
    exporting (``hueyctl show``, listings, exports, the TUI, events): a packed body
    with ``task_id`` (the id the store keeps it under) put back. Best effort: never
    raises for bad bytes, never decodes the payload (so never unpickles), never
    verifies; a body that is not a task record comes back as
    ``{"task": "?", "error": ..., "raw": <hex of its first 200 bytes>}``."""
    try:
        rec = json.loads(data)
        if type(rec) is list:  # keys in canonical order, as a readable body has them
            return dict(sorted(_unpack(rec, task_id).items()))
        if not isinstance(rec, dict):
            raise ValueError("not an object")
        return rec
    except (ValueError, UnicodeDecodeError, CodecError) as exc:
        return {"task": "?", "error": f"unreadable message: {exc}", "raw": data[:200].hex()}


def repack(data: bytes, task_id: str) -> bytes | None:
    """The packed body of a body stored under ``task_id`` in the readable form (an
    earlier release's), for a migration; None when it cannot be repacked without
    change (not a readable record, another id inside, not in canonical form). The
    ``sig`` is kept as it is: it signs the readable record, which the packed body
    gives back byte for byte (checked here), so no key is needed."""
    try:
        rec = json.loads(data)
        if not isinstance(rec, dict) or rec.get("id") != task_id or rec.get("v") != VERSION:
            return None
        if not isinstance(rec.get("task"), str) or "args" not in rec:
            return None
        packed = canonical_json(_pack(rec))
        if canonical_json(dict(sorted(_unpack(json.loads(packed), task_id).items()))) != data:
            return None
        return packed
    except (ValueError, UnicodeDecodeError, CodecError, RecursionError):
        return None
