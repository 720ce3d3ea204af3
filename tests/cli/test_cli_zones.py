"""Every absolute time hueyctl prints names its zone; ``--utc`` (before or after the
command) and ``TZ`` choose the zone. JSON keeps epoch seconds, which need none."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import SqliteHuey
from hueyctl import present
from hueyctl.cli import main

NEPAL = "NPT-5:45"  # UTC+5:45, no DST, POSIX form (no tz database needed)


@pytest.fixture
def nepal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Nepal's; whatever --utc does to TZ is undone afterwards."""
    monkeypatch.setenv("TZ", NEPAL)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_carry_their_zone(nepal: None) -> None:
    assert present.when(0, dt.UTC) == "1970-01-01 00:00:00 UTC"
    assert present.when(0) == "1970-01-01 05:45:00 NPT"
    assert present.clock(60, 0) == "05:46:00 NPT"
    assert present.clock(86400, 0, dt.UTC) == "1970-01-02 00:00:00 UTC"
    assert present.stamp(0.25, dt.UTC) == "1970-01-01 00:00:00.250 UTC"
    assert present.when_ago(0, 7200, dt.UTC) == "1970-01-01 00:00:00 UTC (2h ago)"
    offset_only = dt.timezone(dt.timedelta(hours=2))
    assert present.clock(0, 0, offset_only) == "02:00:00 +0200"


def _queue(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "zones.db"
    huey = SqliteHuey("zones", filename=str(path))

    @huey.task(name="jobs.later")
    def later() -> None: ...

    # 2100-01-01 00:00:00 UTC: on the same day in UTC, the next day in Nepal's zone.
    res = later.schedule(eta=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    huey.revoke_all("jobs.later", revoke_until=4102444800.0)
    return f"sqlite:///{path}", res.id


@pytest.mark.parametrize("where", ["before", "after", "TZ"])
def test_utc_before_or_after_the_command_and_tz(
    where: str, nepal: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, task_id = _queue(tmp_path)
    if where == "TZ":
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
    conn = ["--url", url, "--queue", "zones"]
    runner = CliRunner()

    def run(*args: str) -> str:
        if where == "before":
            argv = ["--utc", *args, *conn]
        elif where == "after":
            argv = [*args, *conn, "--utc"]
        else:
            argv = [*args, *conn]
        result = runner.invoke(main, argv, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert re.search(r"2100-01-01 00:00:00 UTC", run("scheduled"))
    assert "2100-01-01 00:00:00 UTC (in " in run("revocations")
    shown = run("show", task_id)
    assert re.search(r"enqueued\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(", shown)
    assert "eta" in shown and "2100-01-01 00:00:00 UTC" in shown


def test_local_time_says_so_and_json_stays_epoch(nepal: None, tmp_path: Path) -> None:
    url, _ = _queue(tmp_path)
    runner = CliRunner()
    text = runner.invoke(main, ["scheduled", "--url", url, "--queue", "zones"]).output
    assert "2100-01-01 05:45:00 NPT" in text
    rows = json.loads(
        runner.invoke(main, ["scheduled", "--url", url, "--queue", "zones", "--json"]).output
    )
    assert rows[0]["eta"] == 4102444800.0
