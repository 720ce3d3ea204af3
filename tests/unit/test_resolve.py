"""``hueyctl.resolve`` without a terminal: times, call arguments, the one "looks
like a task id" rule, and task names and ids resolved against a memory queue."""

from __future__ import annotations

import datetime as dt

import pytest

from engine import MemoryHuey
from engine.inspect import Inspector
from hueyctl import resolve
from hueyctl.errors import EXIT_FAILED, EXIT_USAGE, CommandError

NOW = 1_800_000_000.0


# --- times ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1h30m", 5400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert resolve.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "2x", "1h and 5m", "12"])
def test_parse_duration_refuses_what_is_not_one(text: str) -> None:
    assert resolve.parse_duration(text) is None


def test_parse_when_reads_durations_and_local_or_aware_times() -> None:
    assert resolve.parse_when("2h", "--until", NOW) == NOW + 7200
    later = dt.datetime.fromtimestamp(NOW) + dt.timedelta(days=1)
    naive = later.strftime("%Y-%m-%d %H:%M")
    assert resolve.parse_when(naive, "--eta", NOW) == dt.datetime.fromisoformat(naive).timestamp()
    aware = "2100-01-01T06:00+00:00"
    assert resolve.parse_when(aware, "--eta", NOW) == 4102466400.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("yesterday", "is not a time"), ("2001-01-01 10:00", "is in the past"), ("0s", "in the past")],
)
def test_parse_when_refuses_the_past_and_nonsense(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as err:
        resolve.parse_when(text, "--until", NOW)
    assert err.value.exit_code == EXIT_USAGE and fragment in err.value.format_message()


def test_parse_delay() -> None:
    assert resolve.parse_delay("30", NOW) == NOW + 30
    assert resolve.parse_delay("5m", NOW) == NOW + 300
    assert resolve.parse_delay("0", NOW) is None  # no delay at all
    for bad, fragment in (("soon", "is not a duration"), ("-5", "is negative")):
        with pytest.raises(CommandError, match=fragment):
            resolve.parse_delay(bad, NOW)


# --- call arguments ---------------------------------------------------------------------
def test_parse_args_reads_json_else_strings() -> None:
    assert resolve.parse_args(["1", "2.5", "true", "null", "[1]", '{"a": 1}', '"q"', "Ann"]) == [
        1,
        2.5,
        True,
        None,
        [1],
        {"a": 1},
        "q",
        "Ann",
    ]
    with pytest.raises(CommandError, match="argument 2 .* looks like JSON"):
        resolve.parse_args(["1", "[1,"])


def test_parse_kwargs() -> None:
    assert resolve.parse_kwargs(None) == {} and resolve.parse_kwargs('{"n": 1}') == {"n": 1}
    with pytest.raises(CommandError, match="not valid JSON"):
        resolve.parse_kwargs("{n: 1}")
    with pytest.raises(CommandError, match="must be a JSON object, got list"):
        resolve.parse_kwargs("[1]")


# --- the one id rule --------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["0190", "0190ab12", "FFFFFFFF", "ffffffff-ffff", "0190a000-0000-7000-8000-000000000101"],
)
def test_looks_like_an_id(text: str) -> None:
    assert resolve.looks_like_id(text)


@pytest.mark.parametrize("text", ["add", "cafe", "decade", "beef", "jobs.add", "0-", "12 34", ""])
def test_does_not_look_like_an_id(text: str) -> None:
    assert not resolve.looks_like_id(text)


# --- names and ids against a queue ------------------------------------------------------
@pytest.fixture
def insp() -> Inspector:
    """A queue whose store has seen jobs.add and jobs.send_email (reports.add is only
    registered: the application knows it, the store does not)."""
    huey = MemoryHuey("orders")

    @huey.task(name="jobs.add")
    def add(a: int, b: int) -> int:
        return a + b

    @huey.task(name="reports.add")
    def add_report(a: int) -> int:
        return a

    @huey.task(name="jobs.send_email")
    def send_email(to: str) -> None: ...

    huey.enqueue(_with_id(add.s(1, 1), "0190a000-0000-7000-8000-000000000101"))
    huey.enqueue(_with_id(add.s(2, 2), "0190a000-0000-7000-8000-000000000102"))
    huey.enqueue(_with_id(send_email.s("x"), "0190b000-0000-7000-8000-000000000201"))
    return Inspector(huey)


@pytest.fixture
def app(insp: Inspector) -> resolve.App:
    return resolve.App("app.huey", frozenset(insp.huey.tasks))


def _with_id(task: object, task_id: str) -> object:
    task.id = task_id  # type: ignore[attr-defined]
    return task


def test_names_from_the_app_or_from_the_store(insp: Inspector, app: resolve.App) -> None:
    assert resolve.known_names(insp, app) == {"jobs.add", "reports.add", "jobs.send_email"}
    assert resolve.known_names(insp, None) == {"jobs.add", "jobs.send_email"}  # what it has seen


def test_resolve_name(insp: Inspector, app: resolve.App) -> None:
    assert resolve.resolve_name(insp, app, "send_email", False) == "jobs.send_email"
    with pytest.raises(CommandError, match="could be jobs.add, reports.add"):
        resolve.resolve_name(insp, app, "add", False)
    with pytest.raises(CommandError, match="did you mean jobs.send_email"):
        resolve.resolve_name(insp, app, "jobs.send_emial", False)
    assert resolve.resolve_name(insp, app, "new.task", True) == "new.task"


def test_resolve_id(insp: Inspector) -> None:
    assert resolve.find_ids(insp, "0190a") == [
        "0190a000-0000-7000-8000-000000000101",
        "0190a000-0000-7000-8000-000000000102",
    ]
    assert resolve.resolve_id(insp, "0190b") == "0190b000-0000-7000-8000-000000000201"
    with pytest.raises(CommandError, match="matches 2 tasks"):
        resolve.resolve_id(insp, "0190a")
    with pytest.raises(CommandError) as err:
        resolve.resolve_id(insp, "ffff")
    assert err.value.exit_code == EXIT_FAILED and "no task with id 'ffff'" in str(err.value)


def test_resolve_target_tells_names_from_ids(insp: Inspector) -> None:
    assert resolve.resolve_target(insp, None, "send_email", False) == ("task", "jobs.send_email")
    assert resolve.resolve_target(insp, None, "0190b", False) == (
        "id",
        "0190b000-0000-7000-8000-000000000201",
    )
    with pytest.raises(CommandError, match="no queued task whose id starts with it"):
        resolve.resolve_target(insp, None, "ffff0", False)
    with pytest.raises(CommandError, match="no task named 'cafe'"):
        resolve.resolve_target(insp, None, "cafe", False)  # a word, not an id


def test_did_you_mean_compares_the_short_name_too() -> None:
    from hueyctl.resolve import close_names

    names = {"tasks.fast", "tasks.slow", "billing.fast_refund"}
    assert close_names("fsat", names) == ["tasks.fast"]  # a typo of the short name
    assert close_names("tasks.fsat", names)[0] == "tasks.fast"
    assert close_names("zzz", names) == []
