"""Tests for engine.codec: typed JSON, pickle, codec lookup and message signing."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codec import (
    Codec,
    JsonCodec,
    PickleCodec,
    canonical_json,
    get_codec,
    sign,
    verify,
)
from engine.exceptions import CodecError, EngineError, SignatureError

JSON = JsonCodec()
PICKLE = PickleCodec()


class Point:
    """A module-level class, so pickle can find it again."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))


class Color(enum.IntEnum):
    RED = 1


class Shade(enum.Enum):
    DARK = "dark"


# --------------------------------------------------------------------------- helpers


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _same_unordered(a: Any, b: Any) -> bool:
    """Every item of ``a`` matches a distinct item of ``b`` (sets, dict items)."""
    rest = list(b)
    for item in a:
        match = next((i for i, other in enumerate(rest) if same(item, other)), None)
        if match is None:
            return False
        rest.pop(match)
    return not rest


def same(a: Any, b: Any) -> bool:
    """Strict equality: same types all the way down, offsets, signs and exponents too."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return _same_float(a, b)
    if isinstance(a, Decimal):
        return bool(a.as_tuple() == b.as_tuple())
    if isinstance(a, (datetime, time)):
        return bool(a == b and a.utcoffset() == b.utcoffset())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (set, frozenset)):
        return _same_unordered(a, b)
    if isinstance(a, dict):
        return _same_unordered(a.items(), b.items())
    return bool(a == b)


def through_json(value: Any, dumps: Any = json.dumps) -> Any:
    """encode -> JSON text -> decode, as a message would travel."""
    text = dumps(JSON.encode(value))
    return JSON.decode(json.loads(text))


def assert_round_trip(value: Any) -> None:
    back = through_json(value)
    assert same(back, value), (value, JSON.encode(value), back)


# --------------------------------------------------------------------------- json: plain


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "",
        "ünïcødé ☃",
        0,
        -7,
        2**80,
        1.5,
        -0.0,
        True,
        False,
        None,
        [1, "a", None],
        {"a": 1, "b": [True, {"c": None}]},
        {"a$": 1},
        {"$a": 1, "$b": 2},
        {},
        [],
    ],
)
def test_plain_json_is_left_as_is(value: Any) -> None:
    assert same(JSON.encode(value), value)
    assert_round_trip(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_stay_floats(value: float) -> None:
    assert JSON.encode(value) is value
    assert_round_trip(value)


def test_bool_is_not_confused_with_int() -> None:
    value = [True, 1, False, 0, {"t": True, "one": 1}, (True, 1), {1: True}]
    back = through_json(value)
    assert same(back, value)
    assert type(back[0]) is bool and type(back[1]) is int
    assert type(back[5][0]) is bool and type(back[5][1]) is int


# --------------------------------------------------------------------------- json: tagged


PLUS_0530 = timezone(timedelta(hours=5, minutes=30))
MINUS_ODD = timezone(-timedelta(hours=3, minutes=7, seconds=9, microseconds=11))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ((1, "a"), {"$tuple": [1, "a"]}),
        ((), {"$tuple": []}),
        (
            datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
            {"$datetime": "2026-01-02T03:04:05.000006+00:00"},
        ),
        (datetime(2026, 1, 2, 3, 4, 5), {"$datetime": "2026-01-02T03:04:05.000000"}),
        (date(2026, 1, 2), {"$date": "2026-01-02"}),
        (time(3, 4, 5, 6), {"$time": "03:04:05.000006"}),
        (timedelta(days=-1, seconds=5, microseconds=7), {"$timedelta": [-1, 5, 7]}),
        (Decimal("1.10"), {"$decimal": "1.10"}),
        (
            UUID("12345678-1234-5678-1234-567812345678"),
            {"$uuid": "12345678-1234-5678-1234-567812345678"},
        ),
        (b"hello", {"$bytes": "aGVsbG8="}),
        ({3, 1, 2}, {"$set": [1, 2, 3]}),
        (frozenset({"b", "a"}), {"$frozenset": ["a", "b"]}),
        ({1: "a", (2, 3): "b"}, {"$dict": [[1, "a"], [{"$tuple": [2, 3]}, "b"]]}),
    ],
)
def test_tagged_wire_format(value: Any, encoded: Any) -> None:
    assert JSON.encode(value) == encoded
    assert_round_trip(value)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 6),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=PLUS_0530),
        datetime(1, 1, 1, tzinfo=MINUS_ODD),
        datetime.max,
        time(23, 59, 59, 999999, tzinfo=PLUS_0530),
        time(0, 0, tzinfo=MINUS_ODD),
        time(),
        date.min,
        date.max,
        timedelta.max,
        timedelta.min,
        timedelta(0),
        Decimal("-0"),
        Decimal("1E+5"),
        Decimal("Infinity"),
        b"",
        bytes(range(256)),
        set(),
        frozenset(),
    ],
)
def test_tagged_edge_values_round_trip(value: Any) -> None:
    assert_round_trip(value)


def test_aware_datetime_keeps_offset_as_fixed_timezone() -> None:
    value = datetime(2026, 3, 29, 1, 30, tzinfo=PLUS_0530)
    back = through_json(value)
    assert back.utcoffset() == timedelta(hours=5, minutes=30)
    assert isinstance(back.tzinfo, timezone)
    assert back.replace(tzinfo=None) == value.replace(tzinfo=None)


def test_decimal_nan_round_trips() -> None:
    for text in ("NaN", "-NaN", "sNaN"):
        back = through_json(Decimal(text))
        assert str(back) == text


def test_nested_mix_round_trips() -> None:
    value = {
        "args": (1, [2, (3, {4, 5})], {"when": datetime(2026, 1, 2, tzinfo=UTC)}),
        "kwargs": {
            "amount": Decimal("9.99"),
            "id": UUID(int=7),
            "blob": b"\x00\xff",
            "lookup": {(1, 2): frozenset({date(2026, 1, 1)}), None: [timedelta(seconds=3)]},
        },
    }
    assert_round_trip(value)
    assert_round_trip(value)  # the codec keeps no state between calls


def test_subclasses_become_their_base_type() -> None:
    assert type(JSON.encode(Color.RED)) is int and JSON.encode(Color.RED) == 1
    assert JSON.encode(OrderedDict(a=1)) == {"a": 1}
    assert type(JSON.encode(OrderedDict(a=1))) is dict


def test_set_encoding_is_deterministic() -> None:
    first = canonical_json(JSON.encode({"b", "a", "c", 3, (1, 2)}))
    second = canonical_json(JSON.encode({(1, 2), 3, "c", "a", "b"}))
    assert first == second


# --------------------------------------------------------------------------- json: ambiguity


@pytest.mark.parametrize(
    "value",
    [
        {"$tuple": 1},
        {"$x": 1},
        {"$dict": [[1, 2]]},
        {"$bytes": "aGVsbG8="},
        {"$": None},
        {"$datetime": {"$tuple": [1]}},
        [{"$set": []}],
        ({"$uuid": "not"},),
    ],
)
def test_user_dicts_that_look_like_tags_round_trip_as_dicts(value: Any) -> None:
    encoded = JSON.encode(value)
    assert encoded != value
    assert_round_trip(value)


def test_tag_like_dict_is_escaped_as_pairs() -> None:
    assert JSON.encode({"$tuple": 1}) == {"$dict": [["$tuple", 1]]}


# --------------------------------------------------------------------------- json: errors


def test_unsupported_type_names_type_and_remedy() -> None:
    with pytest.raises(CodecError) as info:
        JSON.encode({"p": Point(1, 2)})
    message = str(info.value)
    assert message == (
        "cannot encode value of type 'Point' with the json codec: pass plain data "
        "(str, int, float, list, dict, tuple, datetime, Decimal, UUID, bytes, set) "
        "or use codec='pickle'"
    )
    assert "\n" not in message


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (len, "builtin_function_or_method"),
        (lambda: 1, "function"),
        (Shade.DARK, "Shade"),
        (bytearray(b"x"), "bytearray"),
        (object(), "object"),
    ],
)
def test_unsupported_values_raise_codec_error(value: Any, type_name: str) -> None:
    with pytest.raises(CodecError, match=f"type '{type_name}' with the json codec"):
        JSON.encode([1, (2, value)])


def test_codec_error_is_a_value_error_and_engine_error() -> None:
    with pytest.raises(ValueError):
        JSON.encode(object())
    with pytest.raises(EngineError):
        JSON.encode(object())


def test_reference_cycle_raises_codec_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CodecError, match="reference cycle"):
        JSON.encode(loop)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"$nope": 1}, "unknown tag '\\$nope'"),
        ({"$": 1}, "unknown tag '\\$'"),
        ({"$tuple": 1}, "malformed '\\$tuple' value.*expected a list, got int 1"),
        ({"$set": [[1]]}, "malformed '\\$set' value.*hashable"),
        ({"$dict": [[1]]}, "malformed '\\$dict' value"),
        ({"$dict": [[[1], 2]]}, "malformed '\\$dict' value"),
        ({"$dict": {"a": 1}}, "malformed '\\$dict' value"),
        ({"$datetime": "yesterday"}, "malformed '\\$datetime' value.*ISO 8601"),
        ({"$datetime": 5}, "malformed '\\$datetime' value"),
        ({"$date": "2026-13-01"}, "malformed '\\$date' value"),
        ({"$time": "25:00"}, "malformed '\\$time' value"),
        ({"$timedelta": [1, 2]}, "malformed '\\$timedelta' value"),
        ({"$timedelta": [1, 2, True]}, "malformed '\\$timedelta' value"),
        ({"$timedelta": [10**12, 0, 0]}, "malformed '\\$timedelta' value"),
        ({"$decimal": "one"}, "malformed '\\$decimal' value"),
        ({"$decimal": 1.5}, "malformed '\\$decimal' value"),
        ({"$uuid": "xyz"}, "malformed '\\$uuid' value"),
        ({"$bytes": "not base64!"}, "malformed '\\$bytes' value"),
        ({"$bytes": "é"}, "malformed '\\$bytes' value"),
        ([1, {"$tuple": [{"$nope": 0}]}], "unknown tag '\\$nope'"),
        ((1, 2), "cannot decode value of type 'tuple'"),
        ({1: 2, 3: 4}, "non-str keys"),
    ],
)
def test_malformed_data_raises_codec_error(data: Any, match: str) -> None:
    with pytest.raises(CodecError, match=match) as info:
        JSON.decode(data)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- json: property

_offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59, seconds=59),
    max_value=timedelta(hours=23, minutes=59, seconds=59),
)
_zones = st.none() | st.builds(timezone, _offsets)

_hashable_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.datetimes(timezones=_zones)
    | st.dates()
    | st.times(timezones=_zones)
    | st.timedeltas()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.binary(max_size=8)
)
_leaves = _hashable_leaves | st.floats() | st.decimals()

_hashables = st.recursive(
    _hashable_leaves,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.text(max_size=6).map(lambda s: "$" + s), inner, max_size=2)
        | st.dictionaries(_hashables, inner, max_size=3)
        | st.sets(_hashables, max_size=3)
        | st.frozensets(_hashables, max_size=3)
    )


values = st.recursive(_leaves, _containers, max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(values)
def test_property_round_trip_through_json_text(value: Any) -> None:
    assert_round_trip(value)


@settings(max_examples=100, deadline=None)
@given(values)
def test_property_round_trip_through_canonical_json(value: Any) -> None:
    back = JSON.decode(json.loads(canonical_json(JSON.encode(value))))
    assert same(back, value)


# --------------------------------------------------------------------------- pickle


def test_pickle_round_trips_custom_class() -> None:
    value = {"p": Point(1, 2), "s": {Point(3, 4)}, "t": (Point(5, 6),)}
    encoded = PICKLE.encode(value)
    assert isinstance(encoded, str)
    encoded.encode("ascii")
    assert PICKLE.decode(json.loads(json.dumps(encoded))) == value


def test_pickle_unpicklable_value_raises_codec_error() -> None:
    with pytest.raises(CodecError, match="cannot encode value of type 'function' with the pickle"):
        PICKLE.encode(lambda: 1)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (5, "expected a base64 string, got int 5"),
        ("not base64!", "bad base64"),
        ("aGVsbG8=", "cannot decode pickle data"),
    ],
)
def test_pickle_bad_data_raises_codec_error(data: Any, match: str) -> None:
    with pytest.raises(CodecError, match=match) as info:
        PICKLE.decode(data)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- lookup


def test_get_codec_by_name() -> None:
    assert isinstance(get_codec("json"), JsonCodec)
    assert isinstance(get_codec("pickle"), PickleCodec)
    assert get_codec("json").name == "json"
    assert get_codec("pickle").name == "pickle"


def test_get_codec_accepts_a_codec_object() -> None:
    class Upper:
        name = "upper"

        def encode(self, value: Any) -> Any:
            return str(value).upper()

        def decode(self, data: Any) -> Any:
            return data

    codec = Upper()
    assert isinstance(codec, Codec)
    assert get_codec(codec) is codec
    assert get_codec(JSON) is JSON


def test_get_codec_unknown_name_lists_valid_names() -> None:
    with pytest.raises(CodecError, match="unknown codec 'yaml': use one of 'json', 'pickle'"):
        get_codec("yaml")


def test_get_codec_rejects_other_objects() -> None:
    with pytest.raises(CodecError, match="got 'int'"):
        get_codec(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- canonical json


def test_canonical_json_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_canonical_json_escapes_lone_surrogates() -> None:
    raw = canonical_json({"s": "a\ud800b"})
    raw.decode("utf-8")
    assert json.loads(raw) == {"s": "a\ud800b"}


def test_canonical_json_rejects_non_json() -> None:
    with pytest.raises(CodecError, match="cannot serialise to JSON"):
        canonical_json({"x": object()})


# --------------------------------------------------------------------------- signing

KEY = b"secret-key"
BODY = canonical_json({"id": "abc", "args": [1, 2]})


def test_sign_is_hmac_sha256_hex() -> None:
    signature = sign(KEY, BODY)
    assert len(signature) == 64
    assert signature == sign(KEY, BODY)
    assert signature != sign(KEY, BODY + b" ")
    verify(KEY, BODY, signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_verify_missing_signature(signature: str | None) -> None:
    with pytest.raises(SignatureError, match="^message signature is missing$"):
        verify(KEY, BODY, signature)


@pytest.mark.parametrize(
    "signature",
    [sign(b"other-key", BODY), sign(KEY, BODY + b"x"), "zz", "é" * 64, sign(KEY, BODY)[:-1]],
)
def test_verify_wrong_signature(signature: str) -> None:
    with pytest.raises(SignatureError, match="does not match: was it signed with another key"):
        verify(KEY, BODY, signature)


def test_signature_error_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        verify(KEY, BODY, None)


def test_a_chord_error_round_trips_as_an_error() -> None:
    from engine import Error

    codec = JsonCodec()
    err = Error({"error": "ValueError('x')", "type": "ValueError", "retries": 0})
    wire = json.loads(json.dumps(codec.encode([err, {"error": "plain"}])))
    back = codec.decode(wire)
    assert isinstance(back[0], Error) and back[0] == err and back[0].metadata == dict(err)
    assert type(back[1]) is dict
    one_tag_like = Error({"$x": 1})
    assert codec.decode(json.loads(json.dumps(codec.encode(one_tag_like)))) == one_tag_like


@settings(max_examples=200, deadline=None)
@given(values)
def test_property_canonical_json_writes_what_a_json_encoder_writes(value: Any) -> None:
    # canonical_json reuses one encoder; its bytes are the ones signatures were made on.
    encoded = {"args": JSON.encode(value), "id": "\ud800é", "v": 1, "b": [1.5, None, True]}
    expected = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(encoded) == expected.encode("utf-8", errors="backslashreplace")


def test_canonical_json_refuses_what_json_cannot_write_in_one_line() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    for bad in (cyclic, {"x": object()}, {1: 2, "a": 3}):
        with pytest.raises(CodecError, match="cannot serialise to JSON"):
            canonical_json(bad)
