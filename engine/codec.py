"""Codecs turn task arguments and results into JSON-compatible data, and back.

A codec's ``encode`` returns a value that ``json.dumps`` accepts; other code
embeds it in a JSON envelope, signs the envelope's :func:`canonical_json`
bytes with :func:`sign` and checks them with :func:`verify` before decoding.

Wire format of :class:`JsonCodec` (name ``"json"``, the default)
-----------------------------------------------------------------

Plain JSON values are written as they are, so an envelope stays readable by
people and by other languages: ``str``, ``int``, ``float`` (``NaN`` and
``Infinity`` included, as ``json.dumps`` writes them), ``bool``, ``None``,
``list`` and ``dict`` whose keys are all ``str``.

Every other value is a *tagged object*: a JSON object with exactly one key,
the tag, which starts with ``$``::

    {"$tuple": [item, ...]}                 tuple
    {"$set": [item, ...]}                   set (items sorted by their JSON text)
    {"$frozenset": [item, ...]}             frozenset (same order)
    {"$dict": [[key, value], ...]}          dict with a non-str key, or one
                                            that would read as a tag (below)
    {"$datetime": "2026-01-02T03:04:05.000006+00:00"}   naive or aware
    {"$date": "2026-01-02"}
    {"$time": "03:04:05.000006+01:00"}                  naive or aware
    {"$timedelta": [days, seconds, microseconds]}
    {"$decimal": "1.10"}                    str(Decimal), exponent kept
    {"$uuid": "12345678-1234-5678-1234-567812345678"}
    {"$bytes": "aGVsbG8="}                  standard base64
    {"$error": {"error": ..., ...}}         :class:`Error`, a chord member's final
                                            failure (its error metadata)

Items, keys and values inside tagged objects are encoded the same way, so
containers nest freely. On decode, any JSON object with exactly one key that
starts with ``$`` is read as a tag; that is why encode writes a user dict of
that shape (``{"$x": 1}``) as ``{"$dict": [["$x", 1]]}``: user data is never
misread as a tag. An unknown tag or a payload of the wrong shape raises
:class:`~engine.exceptions.CodecError`.

What does not round-trip exactly:

* subclasses of supported types come back as the base type: an ``IntEnum``
  member becomes a plain ``int``, a ``StrEnum`` member a ``str``, a
  namedtuple a ``tuple``, an ``OrderedDict`` a ``dict``;
* aware datetimes and times come back with a fixed-offset
  :class:`datetime.timezone` of the same UTC offset (a ``ZoneInfo`` zone
  name is not kept), and ``fold`` is not kept;
* key order of a plain dict survives the codec, but :func:`canonical_json`
  sorts keys, so it does not survive the envelope.

Values of any other type (a custom object, a function, a plain ``Enum``)
raise :class:`~engine.exceptions.CodecError` naming the type.

:class:`PickleCodec` (name ``"pickle"``, explicit opt-in) writes one string:
the standard base64 of ``pickle.dumps(value, protocol=HIGHEST_PROTOCOL)``.
Decoding pickle data runs code chosen by whoever wrote it: use it only with
signed messages (:func:`verify`) from a store you trust.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import pickle
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from engine.exceptions import CodecError, ConfigurationError, SignatureError

__all__ = [
    "Codec",
    "Error",
    "JsonCodec",
    "PickleCodec",
    "canonical_json",
    "get_codec",
    "sign",
    "signing_keys",
    "verify",
]


@runtime_checkable
class Codec(Protocol):
    """Maps Python values to JSON-compatible values (``encode``) and back (``decode``)."""

    name: str

    def encode(self, value: Any) -> Any:
        """Return a value that ``json.dumps`` accepts and ``decode`` inverts."""
        ...

    def decode(self, data: Any) -> Any:
        """Return the Python value that ``encode`` turned into ``data``."""
        ...


class Error(dict[str, Any]):
    """A chord member's final failure, as the callback sees it (huey's ``Error``): the
    error metadata (``error``, ``type``, ``traceback``, ``task_id``, ``retries``). A
    dict, so code that reads it as one keeps working; the json codec carries it as
    the tag ``$error``, so the callback receives an ``Error`` with either codec."""

    @property
    def metadata(self) -> dict[str, Any]:
        """The error metadata as a plain dict."""
        return dict(self)

    def __repr__(self) -> str:
        return f"Error({self.get('error')!r})"


# Its public home is engine.chord (pickled callback arguments name the class there).
Error.__module__ = "engine.chord"


# --------------------------------------------------------------------------- json


_JSON_SCALARS = (str, int, float, bool, type(None))
_SUPPORTED = "str, int, float, list, dict, tuple, datetime, Decimal, UUID, bytes, set"


def _describe(value: Any) -> str:
    """Name a value's type and show a short, one-line repr of it."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _one_line(exc: BaseException) -> str:
    """Give an exception as ``Type: first line of its message``."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# ----- encode


def _tagged(tag: str, payload: Any) -> dict[str, Any]:
    return {tag: payload}


def _encode_datetime(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _encode_time(value: time) -> str:
    return value.isoformat(timespec="microseconds")


def _encode_timedelta(value: timedelta) -> list[int]:
    return [value.days, value.seconds, value.microseconds]


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# Order matters: datetime is a subclass of date, so it is tried first.
_LEAF_ENCODERS: tuple[tuple[type[Any], str, Callable[[Any], Any]], ...] = (
    (datetime, "$datetime", _encode_datetime),
    (date, "$date", date.isoformat),
    (time, "$time", _encode_time),
    (timedelta, "$timedelta", _encode_timedelta),
    (Decimal, "$decimal", str),
    (UUID, "$uuid", str),
    (bytes, "$bytes", _encode_bytes),
)


def _encode_scalar_subclass(value: Any) -> Any:
    """Turn a subclass of a JSON scalar (IntEnum, StrEnum, ...) into the base type."""
    if isinstance(value, int):  # bool cannot be subclassed, so it never gets here
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return str.__str__(value)


def _is_tag_like(value: dict[Any, Any]) -> bool:
    """True when a dict would be read back as a tagged object."""
    if len(value) != 1:
        return False
    (key,) = value
    return isinstance(key, str) and key.startswith("$")


def _encode_dict(value: dict[Any, Any]) -> Any:
    if all(type(key) is str for key in value) and not _is_tag_like(value):
        return {key: _encode(item) for key, item in value.items()}
    pairs = [[_encode(key), _encode(item)] for key, item in value.items()]
    return _tagged("$dict", pairs)


def _set_sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _encode_items(items: Iterable[Any], *, sort: bool = False) -> list[Any]:
    encoded = [_encode(item) for item in items]
    return sorted(encoded, key=_set_sort_key) if sort else encoded


def _encode_container(value: Any) -> Any:
    """Encode a dict, list, tuple, set or frozenset; return ``NotImplemented`` for others."""
    if isinstance(value, Error):
        return _tagged("$error", _encode_dict(dict(value)))
    if isinstance(value, dict):
        return _encode_dict(value)
    if isinstance(value, list):
        return _encode_items(value)
    if isinstance(value, tuple):
        return _tagged("$tuple", _encode_items(value))
    if isinstance(value, set):
        return _tagged("$set", _encode_items(value, sort=True))
    if isinstance(value, frozenset):
        return _tagged("$frozenset", _encode_items(value, sort=True))
    return NotImplemented


def _unsupported(value: Any) -> CodecError:
    return CodecError(
        f"cannot encode value of type {type(value).__name__!r} with the json codec: "
        f"pass plain data ({_SUPPORTED}) or use codec='pickle'"
    )


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is list:  # a call's arguments: the hot path, before the subclass checks
        return [item if type(item) in _JSON_SCALARS else _encode(item) for item in value]
    if isinstance(value, _JSON_SCALARS):
        return _encode_scalar_subclass(value)
    encoded = _encode_container(value)
    if encoded is not NotImplemented:
        return encoded
    for kind, tag, encode_leaf in _LEAF_ENCODERS:
        if isinstance(value, kind):
            return _tagged(tag, encode_leaf(value))
    raise _unsupported(value)


# ----- decode


class _BadPayload(Exception):
    """A tag's payload has the wrong shape; turned into CodecError by the caller."""


def _require(payload: Any, kind: type[Any]) -> Any:
    if type(payload) is not kind:
        raise _BadPayload
    return payload


def _decode_list(payload: Any) -> list[Any]:
    return [_decode(item) for item in _require(payload, list)]


def _decode_tuple(payload: Any) -> tuple[Any, ...]:
    return tuple(_decode_list(payload))


def _decode_set(payload: Any) -> set[Any]:
    return set(_decode_list(payload))


def _decode_frozenset(payload: Any) -> frozenset[Any]:
    return frozenset(_decode_list(payload))


def _decode_pair(pair: Any) -> tuple[Any, Any]:
    if type(pair) is not list or len(pair) != 2:
        raise _BadPayload
    return _decode(pair[0]), _decode(pair[1])


def _decode_dict_pairs(payload: Any) -> dict[Any, Any]:
    return dict(_decode_pair(pair) for pair in _require(payload, list))


def _decode_error(payload: Any) -> Error:
    return Error(_require(_decode(payload), dict))


def _decode_timedelta(payload: Any) -> timedelta:
    parts = _require(payload, list)
    if len(parts) != 3 or any(type(part) is not int for part in parts):
        raise _BadPayload
    days, seconds, microseconds = parts
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _decode_bytes(payload: Any) -> bytes:
    return base64.b64decode(_require(payload, str), validate=True)


def _from_string(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def decode(payload: Any) -> Any:
        return parse(_require(payload, str))

    return decode


_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{6}))?)?$")


def _parse_datetime(text: str) -> datetime:
    """``datetime.fromisoformat``, but reading a UTC offset with microseconds itself:
    Python 3.11 reads ``+00:00:00.000001`` as UTC."""
    match = _OFFSET.search(text) if len(text) > 19 else None
    if match is None:
        return datetime.fromisoformat(text)
    sign, hh, mm, ss, us = match.groups()
    offset = timedelta(
        hours=int(hh), minutes=int(mm), seconds=int(ss or 0), microseconds=int(us or 0)
    )
    naive = datetime.fromisoformat(text[: match.start()])
    return naive.replace(tzinfo=timezone(-offset if sign == "-" else offset))


def _parse_time(text: str) -> time:
    if _OFFSET.search(text) is None:
        return time.fromisoformat(text)
    full = _parse_datetime("2000-01-01T" + text)
    return full.timetz()


# tag -> (decoder, what its payload must be, for error messages)
_TAG_DECODERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "$tuple": (_decode_tuple, "a list"),
    "$set": (_decode_set, "a list of hashable items"),
    "$frozenset": (_decode_frozenset, "a list of hashable items"),
    "$dict": (_decode_dict_pairs, "a list of [key, value] pairs with hashable keys"),
    "$datetime": (_from_string(_parse_datetime), "an ISO 8601 datetime string"),
    "$date": (_from_string(date.fromisoformat), "an ISO 8601 date string"),
    "$time": (_from_string(_parse_time), "an ISO 8601 time string"),
    "$timedelta": (_decode_timedelta, "a list of 3 ints [days, seconds, microseconds]"),
    "$decimal": (_from_string(Decimal), "a decimal number string"),
    "$uuid": (_from_string(UUID), "a UUID string"),
    "$bytes": (_decode_bytes, "a base64 string"),
    "$error": (_decode_error, "an object of error metadata"),
}


def _decode_tagged(tag: str, payload: Any) -> Any:
    entry = _TAG_DECODERS.get(tag)
    if entry is None:
        known = ", ".join(sorted(_TAG_DECODERS))
        raise CodecError(
            f"unknown tag {tag!r} in json-encoded data: it was not written by this codec "
            f"(known tags: {known})"
        )
    decoder, expected = entry
    try:
        return decoder(payload)
    except CodecError:
        raise
    except (_BadPayload, ValueError, TypeError, ArithmeticError) as exc:
        raise CodecError(
            f"malformed {tag!r} value in json-encoded data: "
            f"expected {expected}, got {_describe(payload)}"
        ) from exc


def _decode_object(data: dict[Any, Any]) -> Any:
    if _is_tag_like(data):
        ((tag, payload),) = data.items()
        return _decode_tagged(tag, payload)
    if not all(type(key) is str for key in data):
        raise CodecError("cannot decode a dict with non-str keys: expected data from json.loads")
    return {key: _decode(item) for key, item in data.items()}


def _decode(data: Any) -> Any:
    kind = type(data)
    if kind in _JSON_SCALARS:
        return data
    if kind is list:
        return [item if type(item) in _JSON_SCALARS else _decode(item) for item in data]
    if type(data) is dict:
        return _decode_object(data)
    raise CodecError(
        f"cannot decode value of type {type(data).__name__!r}: expected data from json.loads"
    )


class JsonCodec:
    """Typed JSON: plain JSON stays plain, other supported types become tagged objects.

    See the module docstring for the wire format and what does not round-trip.
    """

    name: str = "json"

    def encode(self, value: Any) -> Any:
        try:
            return _encode(value)
        except RecursionError:
            raise CodecError(
                "cannot encode value with the json codec: it is nested too deeply "
                "or contains a reference cycle"
            ) from None

    def decode(self, data: Any) -> Any:
        try:
            return _decode(data)
        except RecursionError:
            raise CodecError("cannot decode json-encoded data: it is nested too deeply") from None

    def __repr__(self) -> str:
        return "JsonCodec()"


# --------------------------------------------------------------------------- pickle


class PickleCodec:
    """Any picklable value, as a base64 string of its pickle. Explicit opt-in.

    Decoding runs code chosen by whoever wrote the data: only decode signed
    messages from a store you trust.
    """

    name: str = "pickle"

    def encode(self, value: Any) -> Any:
        try:
            raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise CodecError(
                f"cannot encode value of type {type(value).__name__!r} with the pickle codec: "
                f"{_one_line(exc)}"
            ) from exc
        return base64.b64encode(raw).decode("ascii")

    def decode(self, data: Any) -> Any:
        if type(data) is not str:
            raise CodecError(
                f"cannot decode pickle data: expected a base64 string, got {_describe(data)}"
            )
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CodecError(f"cannot decode pickle data: bad base64 ({exc})") from exc
        try:
            return pickle.loads(raw)
        except Exception as exc:
            raise CodecError(f"cannot decode pickle data: {_one_line(exc)}") from exc

    def __repr__(self) -> str:
        return "PickleCodec()"


# --------------------------------------------------------------------------- lookup


_CODECS: dict[str, Callable[[], Codec]] = {
    JsonCodec.name: JsonCodec,
    PickleCodec.name: PickleCodec,
}


def get_codec(name_or_codec: str | Codec) -> Codec:
    """Return the codec named ``"json"`` or ``"pickle"``, or a codec object as it is."""
    if isinstance(name_or_codec, str):
        factory = _CODECS.get(name_or_codec)
        if factory is None:
            valid = ", ".join(repr(name) for name in _CODECS)
            raise CodecError(f"unknown codec {name_or_codec!r}: use one of {valid}")
        return factory()
    if isinstance(name_or_codec, Codec):
        return name_or_codec
    raise CodecError(
        f"codec must be a name ('json' or 'pickle') or an object with name, encode and "
        f"decode; got {type(name_or_codec).__name__!r}"
    )


# --------------------------------------------------------------------------- signing


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The same encoder made once (JSONEncoder.encode builds one per call): C's, without the
# table of containers seen (a cycle ends in RecursionError instead), so one is shared
# by every thread. None where the C accelerator is missing.
_C_CANONICAL: Callable[[Any, int], list[str]] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None, _CANONICAL.default, encode_basestring, None, ":", ",", True, False, True
    )
)


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` the one way that is signed: compact, sorted keys, UTF-8.

    A lone surrogate in a string (valid in Python, not in UTF-8) is written as
    its JSON escape (``\\ud800``), so the bytes are always valid UTF-8 and
    ``json.loads`` gives the same string back.
    """
    try:
        text = _CANONICAL.encode(obj) if _C_CANONICAL is None else "".join(_C_CANONICAL(obj, 0))
    except (TypeError, ValueError) as exc:
        raise CodecError(f"cannot serialise to JSON: {_one_line(exc)}") from exc
    except RecursionError:
        raise CodecError("cannot serialise to JSON: nested too deeply, or a cycle") from None
    # Surrogates only occur inside string literals, where "\\udXXX" is their JSON escape.
    return text.encode("utf-8", errors="backslashreplace")


def sign(key: bytes, body: bytes) -> str:
    """Return the HMAC-SHA256 of ``body`` under ``key``, as lowercase hex."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(
    key: bytes | Sequence[bytes], body: bytes, signature: str | None, what: str = "message"
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is ``sign(k, body)`` for ``key``
    or (a list of keys, during a rotation) for any one of them. ``what`` names the
    record in the error ("message", "result")."""
    if not signature:
        raise SignatureError(f"{what} signature is missing")
    keys = (key,) if isinstance(key, bytes) else key
    given = signature.encode("utf-8", errors="surrogatepass") if isinstance(signature, str) else b""
    for one in keys:
        if hmac.compare_digest(sign(one, body).encode("ascii"), given):
            return
    raise SignatureError(f"{what} signature does not match: was it signed with another key?")


def signing_keys(key: bytes | str | Sequence[bytes | str] | None) -> tuple[bytes, ...]:
    """The signing keys of a ``signing_key`` option: none, one, or a list whose first
    key signs and all verify (key rotation). A str is its UTF-8 bytes."""
    if key is None:
        return ()
    items = [key] if isinstance(key, (bytes, str)) else list(key)
    keys = []
    for item in items:
        if isinstance(item, str):
            item = item.encode()
        if not isinstance(item, bytes) or not item:
            raise ConfigurationError(
                "signing_key must be a non-empty str or bytes, or a list of them "
                "(the first signs, all verify)"
            )
        keys.append(item)
    if not keys:
        raise ConfigurationError("signing_key is an empty list: give at least one key, or None")
    return tuple(keys)
