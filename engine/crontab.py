"""Cron-style schedules for periodic tasks, with huey's ``crontab()`` interface.

``crontab(minute, hour, day, month, day_of_week)`` parses five cron fields into
a :class:`Crontab`.  Calling it with a datetime says whether that minute is
scheduled; :meth:`Crontab.next_after` finds the next scheduled minute.
:func:`parse_spec` reads the classic one-line form, e.g. ``"*/5 9-17 * * 1-5"``.

Field grammar (each field is a comma-separated list of items)::

    *         every value
    */n       every n-th value, starting at the lowest (minute '*/15' = 0,15,30,45)
    a         one value
    a-b       a through b; when a > b the range wraps around
              (hour '22-2' = 22,23,0,1,2; day_of_week '5-1' = Fri,Sat,Sun,Mon)
    a-b/n     every n-th value of a-b, counted from a (also when it wraps)

Ranges: minute 0-59, hour 0-23, day 1-31, month 1-12, day_of_week 0-7 where
0 and 7 both mean Sunday, 1 Monday ... 6 Saturday (cron's numbering, *not*
``datetime.weekday()``).  A field may also be given as an ``int``.

Semantics, and where they differ from classic cron or from huey:

* **day and day_of_week must both match**, as in huey.  Vixie cron instead
  fires when *either* matches if both are restricted; here ``day=1,
  day_of_week=1`` means "the 1st of the month, only when it is a Monday".
* **Seconds are ignored**: a datetime matches when its minute does, whatever
  its seconds and microseconds -- huey does the same, with or without
  ``strict``.
* **Parsing is always strict.**  In huey, ``strict=True`` makes ``crontab()``
  raise ``ValueError`` for an item it cannot parse instead of silently dropping
  it; it has no effect on matching.  Here every bad item (garbage text, value
  out of range, step of 0, empty list item) always raises a one-line
  :class:`~engine.exceptions.ConfigurationError` (a ``ValueError``) naming the
  field and the bad part, so ``strict`` is accepted for compatibility only.
* Beyond huey's grammar: ``a-b/n`` steps, wrap-around ranges, and ``*/n`` on
  day_of_week (over 0-6; huey rejects it).
* Times are wall-clock times in the datetime's own tzinfo (naive or aware);
  :meth:`Crontab.next_after` keeps that tzinfo and does not adjust for DST
  transitions.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, timedelta

from engine.exceptions import ConfigurationError

__all__ = ["Crontab", "crontab", "parse_spec"]

# A satisfiable schedule always matches within 41 years: the longest gap is
# Feb 29 on one given weekday, 40 years apart across a skipped century leap day.
_SEARCH_YEARS = 50

_NUMBER = re.compile(r"[0-9]+")
_FIELD_NAMES = ("minute", "hour", "day", "month", "day_of_week")
# Days in each month of a leap year: the most a month can ever have.
_MAX_DAYS = {month: calendar.monthrange(2000, month)[1] for month in range(1, 13)}


@dataclass(frozen=True)
class _Field:
    """One cron field: its name and the values it accepts."""

    name: str
    low: int
    high: int


_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day", 1, 31)
_MONTH = _Field("month", 1, 12)
_DAY_OF_WEEK = _Field("day_of_week", 0, 7)


def clock_time(ts: float, utc: bool) -> datetime:
    """The naive datetime crontabs see at epoch ``ts``: UTC, or local time in
    localtime mode (the scheduler fires by it, the read model shows next runs)."""
    if utc:
        return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)
    return datetime.fromtimestamp(ts)


def from_clock_time(when: datetime, utc: bool) -> float:
    """Inverse of :func:`clock_time`."""
    return when.replace(tzinfo=UTC).timestamp() if utc else when.timestamp()


def _cron_weekday(day: date) -> int:
    """Cron's weekday number of ``day``: 0=Sunday, 1=Monday ... 6=Saturday."""
    return day.isoweekday() % 7


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def _error(spec: _Field, part: str, text: str, reason: str) -> ConfigurationError:
    """A one-line error naming the field, the bad part and (if wider) the field text."""
    where = f" (in {text!r})" if part != text else ""
    return ConfigurationError(f"invalid crontab {spec.name} {part!r}{where}: {reason}")


def _field_text(spec: _Field, value: object) -> str:
    """The stripped text of a field given as ``str`` or ``int``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigurationError(f"invalid crontab {spec.name} {value!r}: expected a str or an int")
    text = str(value).strip()
    if not text:
        raise _error(spec, text, text, "the field is empty (use '*' for every value)")
    return text


def _digits_value(digits: str) -> int:
    """``int(digits)``, capped at 10**9 (Python refuses to parse > 4300 digits)."""
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= 9 else 10**9


def _number(spec: _Field, digits: str, item: str, text: str) -> int:
    """Parse one value of ``item`` and check it lies in the field's range."""
    if not _NUMBER.fullmatch(digits):
        raise _error(spec, item, text, "expected '*', '*/n', 'a', 'a-b' or 'a-b/n'")
    value = _digits_value(digits)
    if not spec.low <= value <= spec.high:
        raise _error(spec, item, text, f"values must be between {spec.low} and {spec.high}")
    return value


def _step(spec: _Field, digits: str, item: str, text: str) -> int:
    """Parse the ``n`` of ``.../n``: a positive integer."""
    if not _NUMBER.fullmatch(digits) or _digits_value(digits) == 0:
        raise _error(spec, item, text, "the step must be a positive integer")
    return _digits_value(digits)


def _cycle(start: int, end: int, low: int, high: int) -> list[int]:
    """``start`` through ``end`` within ``low..high``, wrapping past ``high``."""
    if start <= end:
        return list(range(start, end + 1))
    return list(range(start, high + 1)) + list(range(low, end + 1))


def _range_values(spec: _Field, start: int, end: int) -> list[int]:
    """The values of range ``start-end``, in order, before any step."""
    if spec is not _DAY_OF_WEEK:
        return _cycle(start, end, spec.low, spec.high)
    if start <= end:
        return list(range(start, end + 1))  # 0-7 and 1-7 stay plain ranges
    return _cycle(start % 7, end % 7, 0, 6)  # a week wraps after Saturday


def _item_values(spec: _Field, item: str, text: str) -> set[int]:
    """All values one list item selects (day_of_week still allows 7)."""
    if not item:
        raise _error(spec, item, text, "empty item in the list")
    base, has_step, step_text = item.partition("/")
    step = _step(spec, step_text, item, text) if has_step else 1
    if base == "*":
        high = 6 if spec is _DAY_OF_WEEK else spec.high
        return set(range(spec.low, high + 1, step))
    first, is_range, last = base.partition("-")
    if not is_range:
        value = _number(spec, first, item, text)
        if has_step:
            raise _error(
                spec, item, text, "a step needs '*' or a range before it, e.g. '*/n' or 'a-b/n'"
            )
        return {value}
    start = _number(spec, first, item, text)
    end = _number(spec, last, item, text)
    return set(_range_values(spec, start, end)[::step])


def _parse_field(spec: _Field, value: str | int) -> tuple[str, frozenset[int]]:
    """The normalised text of one field and the set of values it selects."""
    text = _field_text(spec, value)
    values: set[int] = set()
    for item in text.split(","):
        values |= _item_values(spec, item, text)
    if spec is _DAY_OF_WEEK:
        values = {weekday % 7 for weekday in values}
    return text, frozenset(values)


# --------------------------------------------------------------------------
# Searching
# --------------------------------------------------------------------------


def _first_at_or_after(values: frozenset[int], start: int, high: int) -> int | None:
    """The smallest member of ``values`` in ``start..high``, or None."""
    for value in range(start, high + 1):
        if value in values:
            return value
    return None


def _never_matches(tab: Crontab) -> bool:
    """True if no month of ``tab`` ever has one of its days (e.g. Feb 30)."""
    return not any(day <= _MAX_DAYS[month] for month in tab.months for day in tab.days)


def _match_day(tab: Crontab, year: int, month: int, day: int) -> int | None:
    """The first day >= ``day`` of this month matching day and day_of_week."""
    last = calendar.monthrange(year, month)[1]
    for candidate in range(day, last + 1):
        if candidate in tab.days and (
            _cron_weekday(date(year, month, candidate)) in tab.days_of_week
        ):
            return candidate
    return None


def _match_time(tab: Crontab, hour: int, minute: int) -> tuple[int, int] | None:
    """The first (hour, minute) >= (``hour``, ``minute``) on a day, or None."""
    found_hour = _first_at_or_after(tab.hours, hour, 23)
    if found_hour is None:
        return None
    found_minute = _first_at_or_after(tab.minutes, minute if found_hour == hour else 0, 59)
    if found_minute is not None:
        return found_hour, found_minute
    found_hour = _first_at_or_after(tab.hours, found_hour + 1, 23)
    if found_hour is None:
        return None
    return found_hour, min(tab.minutes)


def _search(tab: Crontab, start: datetime, last_year: int) -> datetime | None:
    """The first matching minute at or after ``start`` up to ``last_year``."""
    year, month, day, hour, minute = start.year, start.month, start.day, start.hour, start.minute
    while year <= last_year:
        found_month = _first_at_or_after(tab.months, month, 12)
        if found_month is None:
            year, month, day, hour, minute = year + 1, 1, 1, 0, 0
            continue
        if found_month != month:
            month, day, hour, minute = found_month, 1, 0, 0
        found_day = _match_day(tab, year, month, day)
        if found_day is None:
            month, day, hour, minute = month + 1, 1, 0, 0
            continue
        if found_day != day:
            day, hour, minute = found_day, 0, 0
        found_time = _match_time(tab, hour, minute)
        if found_time is None:
            day, hour, minute = day + 1, 0, 0
            continue
        return datetime(year, month, day, *found_time, tzinfo=start.tzinfo)
    return None


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Crontab:
    """A parsed schedule; build one with :func:`crontab` or :func:`parse_spec`.

    The sets hold every selected value; ``days_of_week`` uses 0=Sunday ...
    6=Saturday (a 7 in the spec is stored as 0).  Two schedules are equal when
    they select the same minutes, however their spec strings were written.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    minute_spec: str = field(compare=False)
    hour_spec: str = field(compare=False)
    day_spec: str = field(compare=False)
    month_spec: str = field(compare=False)
    day_of_week_spec: str = field(compare=False)

    @property
    def spec(self) -> str:
        """The classic five-field form, e.g. ``'*/5 * * * *'``."""
        return " ".join(
            (
                self.minute_spec,
                self.hour_spec,
                self.day_spec,
                self.month_spec,
                self.day_of_week_spec,
            )
        )

    def __repr__(self) -> str:
        return f"crontab({self.spec!r})"

    def __call__(self, dt: datetime) -> bool:
        """Whether the minute of ``dt`` is scheduled (its seconds are ignored)."""
        return (
            dt.minute in self.minutes
            and dt.hour in self.hours
            and dt.day in self.days
            and dt.month in self.months
            and _cron_weekday(dt) in self.days_of_week
        )

    def next_after(self, dt: datetime) -> datetime:
        """The first whole scheduled minute strictly after ``dt``, in ``dt``'s tzinfo.

        Raises ``ValueError`` (a ConfigurationError) if the schedule can never
        match (e.g. day 30 of February) or no match exists before year 10000.
        """
        if _never_matches(self):
            raise ConfigurationError(
                f"{self!r} never matches: no month {self.month_spec!r} has a day {self.day_spec!r}"
            )
        if dt.replace(tzinfo=None) >= datetime(MAXYEAR, 12, 31, 23, 59):
            raise ConfigurationError(f"{self!r} has no match after {dt.isoformat()}")
        start = dt.replace(second=0, microsecond=0) + timedelta(minutes=1)
        last_year = min(start.year + _SEARCH_YEARS, MAXYEAR)
        found = _search(self, start, last_year)
        if found is None:
            raise ConfigurationError(
                f"{self!r} has no match between {start.isoformat()} and the end of {last_year}"
            )
        return found


def crontab(
    minute: str | int = "*",
    hour: str | int = "*",
    day: str | int = "*",
    month: str | int = "*",
    day_of_week: str | int = "*",
    strict: bool = False,
) -> Crontab:
    """Parse cron fields into a :class:`Crontab` (see the module docstring).

    ``day`` and ``day_of_week`` must *both* match, as in huey.  ``strict`` is
    accepted for huey compatibility only: parsing is always strict, so every
    bad field raises a one-line ``ValueError`` naming the field and bad part.

    Options (each a str in the grammar above, or an int; all default to "*"):
      minute: 0-59.
      hour: 0-23.
      day: day of the month, 1-31.
      month: 1-12.
      day_of_week: 0-7, where 0 and 7 are Sunday and 1 is Monday.
      strict: ignored (see above). Default False.
    """
    del strict  # always strict; see the module docstring
    minute_spec, minutes = _parse_field(_MINUTE, minute)
    hour_spec, hours = _parse_field(_HOUR, hour)
    day_spec, days = _parse_field(_DAY, day)
    month_spec, months = _parse_field(_MONTH, month)
    day_of_week_spec, days_of_week = _parse_field(_DAY_OF_WEEK, day_of_week)
    return Crontab(
        minutes,
        hours,
        days,
        months,
        days_of_week,
        minute_spec,
        hour_spec,
        day_spec,
        month_spec,
        day_of_week_spec,
    )


# huey's helpers: crontab.hourly() fires at minute 0 of every hour, crontab.daily() at
# midnight; both take crontab()'s other options.
crontab.hourly = functools.partial(crontab, minute="0")  # type: ignore[attr-defined]
crontab.daily = functools.partial(crontab, minute="0", hour="0")  # type: ignore[attr-defined]


def parse_spec(spec: str) -> Crontab:
    """Parse a classic five-field line such as ``'*/5 9-17 * * 1-5'``."""
    if not isinstance(spec, str):
        raise ConfigurationError(f"invalid crontab spec {spec!r}: expected a str")
    fields = spec.split()
    if len(fields) != len(_FIELD_NAMES):
        raise ConfigurationError(
            f"invalid crontab spec {spec!r}: expected 5 fields "
            f"({' '.join(_FIELD_NAMES)}), got {len(fields)}"
        )
    minute, hour, day, month, day_of_week = fields
    return crontab(minute, hour, day, month, day_of_week)
