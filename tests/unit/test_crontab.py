"""Tests for engine.crontab: grammar, errors, matching and next_after."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.crontab import Crontab, crontab, parse_spec

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


# --------------------------------------------------------------------------
# Grammar
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minute", "expected"),
    [
        ("*", set(range(60))),
        ("*/15", {0, 15, 30, 45}),
        ("*/7", set(range(0, 60, 7))),
        ("*/60", {0}),
        ("*/100", {0}),
        ("5", {5}),
        ("05", {5}),
        ("0", {0}),
        ("59", {59}),
        ("10-13", {10, 11, 12, 13}),
        ("7-7", {7}),
        ("1-10/3", {1, 4, 7, 10}),
        ("0-59/20", {0, 20, 40}),
        ("0,30", {0, 30}),
        ("1,2,1", {1, 2}),
        ("5,10-12,*/30,40-50/5", {0, 5, 10, 11, 12, 30, 40, 45, 50}),
        ("  */30 ", {0, 30}),
    ],
)
def test_minute_grammar(minute: str, expected: set[int]) -> None:
    assert crontab(minute=minute).minutes == expected


def test_every_field_parses_its_own_range() -> None:
    tab = crontab("*", "*", "*", "*", "*")
    assert tab.minutes == set(range(60))
    assert tab.hours == set(range(24))
    assert tab.days == set(range(1, 32))
    assert tab.months == set(range(1, 13))
    assert tab.days_of_week == set(range(7))


def test_steps_count_from_the_field_low_value() -> None:
    assert crontab(hour="*/4").hours == {0, 4, 8, 12, 16, 20}
    assert crontab(day="*/10").days == {1, 11, 21, 31}
    assert crontab(month="*/3").months == {1, 4, 7, 10}
    assert crontab(day_of_week="*/2").days_of_week == {0, 2, 4, 6}


def test_huey_documented_examples() -> None:
    assert crontab(month="1,4,*/6,8-9").months == {1, 4, 7, 8, 9}
    assert crontab(day="*/6,1,4,8-9").days == {1, 4, 7, 8, 9, 13, 19, 25, 31}
    assert crontab(hour="8-11,18").hours == {8, 9, 10, 11, 18}


@pytest.mark.parametrize(
    ("kwargs", "attribute", "expected"),
    [
        ({"hour": "22-2"}, "hours", {22, 23, 0, 1, 2}),
        ({"hour": "22-4/2"}, "hours", {22, 0, 2, 4}),
        ({"minute": "58-1"}, "minutes", {58, 59, 0, 1}),
        ({"day": "30-2"}, "days", {30, 31, 1, 2}),
        ({"month": "11-2"}, "months", {11, 12, 1, 2}),
        ({"month": "12-1"}, "months", {12, 1}),
        ({"day_of_week": "5-1"}, "days_of_week", {5, 6, 0, 1}),
        ({"day_of_week": "6-0"}, "days_of_week", {6, 0}),
        ({"day_of_week": "7-1"}, "days_of_week", {0, 1}),
        ({"day_of_week": "7-3"}, "days_of_week", {0, 1, 2, 3}),
        ({"day_of_week": "5-2/2"}, "days_of_week", {5, 0, 2}),
    ],
)
def test_wrap_around_ranges(kwargs: dict[str, Any], attribute: str, expected: set[int]) -> None:
    assert getattr(crontab(**kwargs), attribute) == expected


def test_wrap_around_hours_match_across_midnight() -> None:
    tab = crontab(minute=0, hour="22-2")
    matching = {hour for hour in range(24) if tab(datetime(2024, 5, 5, hour))}
    assert matching == {22, 23, 0, 1, 2}


@pytest.mark.parametrize("sunday", ["0", "7", 0, 7])
def test_zero_and_seven_both_mean_sunday(sunday: str | int) -> None:
    tab = crontab(day_of_week=sunday)
    assert tab.days_of_week == {0}
    assert tab(datetime(2024, 1, 7, 12, 0))
    assert not tab(datetime(2024, 1, 8, 12, 0))


@pytest.mark.parametrize("number", range(8))
def test_day_of_week_numbers_follow_cron_not_python(number: int) -> None:
    tab = crontab(day_of_week=number)
    matching = [day for day in range(1, 8) if tab(datetime(2024, 1, day))]
    # 2024-01-01 is a Monday (cron 1); Sunday 2024-01-07 is cron 0 and 7.
    assert matching == [number if number else 7]


def test_day_of_week_ranges_including_seven() -> None:
    assert crontab(day_of_week="0-7").days_of_week == set(range(7))
    assert crontab(day_of_week="1-7").days_of_week == set(range(7))
    assert crontab(day_of_week="5-7").days_of_week == {5, 6, 0}
    assert crontab(day_of_week="1-5").days_of_week == {1, 2, 3, 4, 5}
    assert crontab(day_of_week="1-7/2").days_of_week == {1, 3, 5, 0}


def test_fields_given_as_ints() -> None:
    tab = crontab(minute=5, hour=0, day=1, month=12, day_of_week=7)
    assert tab == crontab("5", "0", "1", "12", "0")
    assert tab.spec == "5 0 1 12 7"
    assert tab(datetime(2024, 12, 1, 0, 5))  # a Sunday


# --------------------------------------------------------------------------
# Matching semantics
# --------------------------------------------------------------------------


def test_day_and_day_of_week_must_both_match() -> None:
    tab = crontab(minute=0, hour=0, day=1, day_of_week=1)  # the 1st, if a Monday
    assert tab(datetime(2024, 1, 1))  # Monday the 1st
    assert not tab(datetime(2024, 2, 1))  # Thursday the 1st
    assert not tab(datetime(2024, 1, 8))  # Monday the 8th
    assert tab.next_after(datetime(2024, 1, 1)) == datetime(2024, 4, 1)


def test_restricting_only_day_of_week_matches_every_such_weekday() -> None:
    tab = parse_spec("0 9 * * 1-5")
    matching = [day for day in range(1, 15) if tab(datetime(2024, 1, day, 9))]
    assert matching == [1, 2, 3, 4, 5, 8, 9, 10, 11, 12]


def test_call_checks_every_field() -> None:
    tab = parse_spec("30 9 15 6 6")  # 2024-06-15 is a Saturday
    assert tab(datetime(2024, 6, 15, 9, 30))
    assert not tab(datetime(2024, 6, 15, 9, 31))
    assert not tab(datetime(2024, 6, 15, 10, 30))
    assert not tab(datetime(2024, 6, 16, 9, 30))
    assert not tab(datetime(2024, 7, 15, 9, 30))
    assert not tab(datetime(2023, 6, 15, 9, 30))  # a Thursday


@pytest.mark.parametrize("strict", [False, True])
def test_seconds_are_ignored_whatever_strict_says(strict: bool) -> None:
    # huey's crontab() compares only month/day/weekday/hour/minute; its
    # strict flag changes parsing, never matching.
    tab = crontab(minute="*/5", strict=strict)
    assert tab(datetime(2024, 1, 1, 10, 5, 0))
    assert tab(datetime(2024, 1, 1, 10, 5, 59, 999_999))
    assert not tab(datetime(2024, 1, 1, 10, 6, 0))


@pytest.mark.parametrize("strict", [False, True])
def test_parsing_is_strict_whatever_strict_says(strict: bool) -> None:
    with pytest.raises(ValueError, match=r"invalid crontab hour 'noon'"):
        crontab(hour="noon", strict=strict)
    assert crontab(hour="1-3", strict=strict) == crontab(hour="1-3")


def test_call_works_with_aware_datetimes() -> None:
    tab = parse_spec("0 12 * * *")
    assert tab(datetime(2024, 1, 1, 12, tzinfo=UTC))
    assert tab(datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("America/New_York")))


# --------------------------------------------------------------------------
# spec, repr, equality, parse_spec
# --------------------------------------------------------------------------


def test_spec_and_repr() -> None:
    tab = crontab(minute="*/5")
    assert tab.spec == "*/5 * * * *"
    assert repr(tab) == "crontab('*/5 * * * *')"
    assert tab.minute_spec == "*/5"
    assert tab.day_of_week_spec == "*"


def test_default_crontab_is_every_minute() -> None:
    tab = crontab()
    assert tab.spec == "* * * * *"
    assert tab(datetime(2024, 2, 29, 23, 59))


def test_parse_spec_round_trips() -> None:
    tab = parse_spec("  */5   9-17 * *\t1-5 ")
    assert tab.spec == "*/5 9-17 * * 1-5"
    assert parse_spec(tab.spec) == tab
    assert tab == crontab(minute="*/5", hour="9-17", day_of_week="1-5")


def test_equality_is_by_schedule_and_hashable() -> None:
    assert crontab(minute="*/15") == crontab(minute="0,15,30,45")
    assert crontab(day_of_week=7) == crontab(day_of_week=0)
    assert crontab(minute=1) != crontab(minute=2)
    assert len({crontab(minute="*/30"), crontab(minute="0,30")}) == 1


def test_crontab_is_frozen() -> None:
    tab = crontab()
    with pytest.raises(AttributeError):
        tab.minutes = frozenset({1})  # type: ignore[misc]
    assert isinstance(tab, Crontab)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"minute": "61"}, r"^invalid crontab minute '61': values must be between 0 and 59$"),
        ({"minute": 60}, r"^invalid crontab minute '60': values must be between 0 and 59$"),
        ({"minute": -1}, r"^invalid crontab minute '-1': expected '\*', "),
        ({"hour": "24"}, r"^invalid crontab hour '24': values must be between 0 and 23$"),
        ({"hour": "20-25"}, r"^invalid crontab hour '20-25': values must be between 0 and 23$"),
        ({"day": "0"}, r"^invalid crontab day '0': values must be between 1 and 31$"),
        ({"day": "32"}, r"^invalid crontab day '32': values must be between 1 and 31$"),
        ({"month": "13"}, r"^invalid crontab month '13': values must be between 1 and 12$"),
        ({"month": "0-3"}, r"^invalid crontab month '0-3': values must be between 1 and 12$"),
        (
            {"day_of_week": "8"},
            r"^invalid crontab day_of_week '8': values must be between 0 and 7$",
        ),
        (
            {"minute": "5,61"},
            r"^invalid crontab minute '61' \(in '5,61'\): values must be between 0 and 59$",
        ),
        (
            {"minute": "9" * 30},
            r"^invalid crontab minute '9{30}': values must be between 0 and 59$",
        ),
        ({"minute": "*/0"}, r"^invalid crontab minute '\*/0': the step must be a positive"),
        ({"hour": "1-5/0"}, r"^invalid crontab hour '1-5/0': the step must be a positive"),
        ({"hour": "*/"}, r"^invalid crontab hour '\*/': the step must be a positive"),
        ({"hour": "*/x"}, r"^invalid crontab hour '\*/x': the step must be a positive"),
        ({"hour": "*/-1"}, r"^invalid crontab hour '\*/-1': the step must be a positive"),
        ({"hour": "5/2"}, r"^invalid crontab hour '5/2': a step needs '\*' or a range"),
        ({"day": "abc"}, r"^invalid crontab day 'abc': expected '\*', '\*/n', 'a', 'a-b'"),
        ({"day": "1-2-3"}, r"^invalid crontab day '1-2-3': expected "),
        ({"day": "*-5"}, r"^invalid crontab day '\*-5': expected "),
        ({"day": "1-"}, r"^invalid crontab day '1-': expected "),
        ({"day": "?"}, r"^invalid crontab day '\?': expected "),
        ({"month": "jan"}, r"^invalid crontab month 'jan': expected "),
        ({"month": "٣"}, r"^invalid crontab month '٣': expected "),  # non-ASCII digit
        ({"day_of_week": "mon-fri"}, r"^invalid crontab day_of_week 'mon-fri': expected "),
        ({"minute": "1, 2"}, r"^invalid crontab minute ' 2' \(in '1, 2'\): expected "),
        ({"minute": "1,,2"}, r"^invalid crontab minute '' \(in '1,,2'\): empty item in the list$"),
        ({"minute": "1,"}, r"^invalid crontab minute '' \(in '1,'\): empty item in the list$"),
        ({"minute": ""}, r"^invalid crontab minute '': the field is empty"),
        ({"hour": "   "}, r"^invalid crontab hour '': the field is empty"),
        ({"hour": True}, r"^invalid crontab hour True: expected a str or an int$"),
        ({"hour": 1.5}, r"^invalid crontab hour 1.5: expected a str or an int$"),
        ({"hour": None}, r"^invalid crontab hour None: expected a str or an int$"),
    ],
)
def test_bad_fields_raise_one_clear_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        crontab(**kwargs)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("* * * *", r"^invalid crontab spec '\* \* \* \*': expected 5 fields .* got 4$"),
        ("* * * * * *", r"expected 5 fields \(minute hour day month day_of_week\), got 6$"),
        ("", r"^invalid crontab spec '': expected 5 fields .* got 0$"),
        ("61 * * * *", r"^invalid crontab minute '61': values must be between 0 and 59$"),
        ("* * * * 1,,2", r"^invalid crontab day_of_week '' \(in '1,,2'\): empty item"),
        ("*/5 9-17 * 13 1-5", r"^invalid crontab month '13': values must be between 1 and 12$"),
    ],
)
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_parse_spec_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match=r"^invalid crontab spec 5: expected a str$"):
        parse_spec(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# next_after
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        # strictly after, whole minutes, seconds dropped
        ("* * * * *", datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 10, 1)),
        ("* * * * *", datetime(2024, 1, 1, 10, 0, 59, 999), datetime(2024, 1, 1, 10, 1)),
        ("*/5 * * * *", datetime(2024, 1, 1, 10, 5), datetime(2024, 1, 1, 10, 10)),
        ("*/5 * * * *", datetime(2024, 1, 1, 10, 4, 30), datetime(2024, 1, 1, 10, 5)),
        # hour boundary
        ("*/5 * * * *", datetime(2024, 1, 1, 10, 57), datetime(2024, 1, 1, 11, 0)),
        ("15 * * * *", datetime(2024, 1, 1, 10, 15), datetime(2024, 1, 1, 11, 15)),
        # day boundary
        ("0 9 * * *", datetime(2024, 1, 1, 9, 0), datetime(2024, 1, 2, 9, 0)),
        ("30 22-2 * * *", datetime(2024, 1, 1, 23, 45), datetime(2024, 1, 2, 0, 30)),
        # month boundary (31-, 30- and 29-day months)
        ("0 0 1 * *", datetime(2024, 1, 31, 23, 59), datetime(2024, 2, 1, 0, 0)),
        ("0 0 31 * *", datetime(2024, 1, 31, 0, 0), datetime(2024, 3, 31, 0, 0)),
        ("0 12 30 * *", datetime(2024, 1, 30, 12, 0), datetime(2024, 3, 30, 12, 0)),
        # year boundary
        ("59 23 31 12 *", datetime(2024, 12, 31, 23, 59), datetime(2025, 12, 31, 23, 59)),
        ("0 0 1 1 *", datetime(2024, 12, 31, 23, 59, 59), datetime(2025, 1, 1, 0, 0)),
        ("* * * 11-2 *", datetime(2024, 2, 29, 23, 59), datetime(2024, 11, 1, 0, 0)),
        # day of week
        ("0 9 * * 1-5", datetime(2024, 1, 5, 9, 0), datetime(2024, 1, 8, 9, 0)),  # Fri -> Mon
        ("0 0 * * 0", datetime(2024, 1, 1), datetime(2024, 1, 7)),
        ("0 0 * * 7", datetime(2024, 1, 7), datetime(2024, 1, 14)),
        ("0 0 13 * 5", datetime(2024, 1, 1), datetime(2024, 9, 13)),  # Friday the 13th
    ],
)
def test_next_after(spec: str, after: datetime, expected: datetime) -> None:
    assert parse_spec(spec).next_after(after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2024, 1, 1), datetime(2024, 2, 29)),
        (datetime(2024, 2, 29), datetime(2028, 2, 29)),
        (datetime(2025, 3, 1), datetime(2028, 2, 29)),
        (datetime(2097, 1, 1), datetime(2104, 2, 29)),  # 2100 is not a leap year
        (datetime(1999, 1, 1), datetime(2000, 2, 29)),  # 2000 is
    ],
)
def test_next_after_leap_day(after: datetime, expected: datetime) -> None:
    assert parse_spec("0 0 29 2 *").next_after(after) == expected


def test_next_after_leap_day_on_a_given_weekday() -> None:
    # Feb 29 falls on a Monday only every 28 years or so: far, but found.
    assert parse_spec("0 0 29 2 1").next_after(datetime(2024, 3, 1)) == datetime(2044, 2, 29)


def test_next_after_last_minute_of_leap_year() -> None:
    tab = parse_spec("59 23 31 12 *")
    assert tab.next_after(datetime(2023, 12, 31, 23, 58)) == datetime(2023, 12, 31, 23, 59)


def test_next_after_keeps_tzinfo() -> None:
    plus_two = timezone(timedelta(hours=2))
    got = parse_spec("0 9 * * *").next_after(datetime(2024, 1, 1, 9, 30, tzinfo=plus_two))
    assert got == datetime(2024, 1, 2, 9, 0, tzinfo=plus_two)
    assert got.tzinfo is plus_two
    paris = ZoneInfo("Europe/Paris")
    got = parse_spec("0 9 * * *").next_after(datetime(2024, 3, 30, 12, tzinfo=paris))
    assert (got.tzinfo, got.replace(tzinfo=None)) == (paris, datetime(2024, 3, 31, 9))


@pytest.mark.parametrize(
    "spec",
    ["0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *", "* * 30-31 2 *"],
)
def test_next_after_impossible_dates_raise(spec: str) -> None:
    with pytest.raises(ValueError, match=r"never matches: no month '.*' has a day '.*'$"):
        parse_spec(spec).next_after(datetime(2024, 1, 1))


def test_next_after_can_match_a_possible_month_among_impossible_ones() -> None:
    tab = parse_spec("0 0 31 2,4,5 *")
    assert tab.next_after(datetime(2024, 1, 1)) == datetime(2024, 5, 31)


def test_next_after_end_of_calendar() -> None:
    tab = crontab()
    assert tab.next_after(datetime(9999, 12, 31, 23, 58, 30)) == datetime(9999, 12, 31, 23, 59)
    with pytest.raises(ValueError, match=r"has no match after 9999-12-31T23:59:00$"):
        tab.next_after(datetime(9999, 12, 31, 23, 59))
    with pytest.raises(ValueError, match=r"has no match between .* and the end of 9999$"):
        parse_spec("0 0 1 1 *").next_after(datetime(9999, 6, 1))


# --------------------------------------------------------------------------
# Property: next_after agrees with brute force over __call__
# --------------------------------------------------------------------------

_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}


@st.composite
def _items(draw: st.DrawFn, low: int, high: int) -> str:
    value = st.integers(low, high)
    kind = draw(st.sampled_from(["*", "*/n", "a", "a-b", "a-b/n"]))
    if kind == "*":
        return "*"
    if kind == "*/n":
        return f"*/{draw(st.integers(1, high - low + 2))}"
    if kind == "a":
        return str(draw(value))
    first, last = draw(value), draw(value)
    if kind == "a-b":
        return f"{first}-{last}"
    return f"{first}-{last}/{draw(st.integers(1, high - low + 2))}"


def _fields(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(_items(low, high), min_size=1, max_size=3).map(",".join)


_specs = st.tuples(
    *(_fields(*_BOUNDS[name]) for name in ("minute", "hour", "day", "month")),
    _fields(0, 7),
)
_datetimes = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1))


def _day_can_match(tab: Crontab, day: date) -> bool:
    """Whether any minute of ``day`` matches, probing one minute via __call__."""
    return tab(datetime(day.year, day.month, day.day, min(tab.hours), min(tab.minutes)))


def _assert_no_match_between(tab: Crontab, after: datetime, found: datetime) -> None:
    """Brute force: no whole minute in (after, found) matches.

    Days that cannot match at all are skipped in one probe; every minute of
    the other days (at most the first and the last) is checked one by one.
    """
    moment = after.replace(second=0, microsecond=0) + MINUTE
    while moment < found:
        is_midnight = moment.hour == moment.minute == 0
        if is_midnight and moment + DAY <= found and not _day_can_match(tab, moment.date()):
            moment += DAY
            continue
        assert not tab(moment), f"{tab!r} matches {moment} before {found}"
        moment += MINUTE


@settings(max_examples=150, deadline=None, database=None)
@given(spec=_specs, after=_datetimes)
def test_next_after_is_the_first_match(spec: tuple[str, ...], after: datetime) -> None:
    tab = parse_spec(" ".join(spec))
    try:
        found = tab.next_after(after)
    except ValueError:  # only when no month of the spec has one of its days
        assert all(day > monthrange(2000, month)[1] for day in tab.days for month in tab.months)
        return
    assert found > after
    assert (found.second, found.microsecond) == (0, 0)
    assert tab(found)
    _assert_no_match_between(tab, after, found)


@settings(max_examples=100, deadline=None, database=None)
@given(spec=_specs, moment=_datetimes)
def test_call_matches_the_parsed_sets(spec: tuple[str, ...], moment: datetime) -> None:
    tab = parse_spec(" ".join(spec))
    expected = (
        moment.minute in tab.minutes
        and moment.hour in tab.hours
        and moment.day in tab.days
        and moment.month in tab.months
        and (moment.weekday() + 1) % 7 in tab.days_of_week
    )
    assert tab(moment) == expected
