"""The benchmark suite still runs: ``python -m benchmarks.suite --smoke`` (tiny sizes, one
repeat) against its own redis-server. Figures are not checked against targets here;
huey's columns are skipped when huey (the ``bench`` extra) is not installed."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import suite  # noqa: E402

OURS_METRICS = ("W1", "W1b", "W2t", "W2p", "W3p50", "W3p99", "W4p50", "W4p99", "W5", "W5p50", "W6")


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_smoke_run(tmp_path: Path) -> None:
    report, data = tmp_path / "report.md", tmp_path / "data.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.suite",
            "--smoke",
            "--markdown",
            str(report),
            "--json",
            str(data),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    measured = json.loads(data.read_text())
    assert not [n for n in measured["notes"] if "failed" in n], measured["notes"]
    for metric in OURS_METRICS:
        for engine in ("ours", "sqlite"):
            values = measured["data"][metric][engine]
            assert values and all(math.isfinite(v) and v > 0 for v in values), (metric, engine)
    if importlib.util.find_spec("huey") is not None:
        for metric in ("W1", "W2t", "W2p", "W3p50", "W5", "W6"):
            assert math.isfinite(measured["data"][metric]["huey"][0]), metric
        assert math.isfinite(measured["data"]["W5"]["huey_notify"][0])
        for engine in ("sqlite", "huey_sqlite"):  # W6 on SQLite against SqliteHuey
            assert math.isfinite(measured["data"]["W6s"][engine][0]), engine
        assert "| W6 SQLite file bytes per pending task" in report.read_text()
    else:
        assert "huey" not in measured["data"]["W1"]
    table = report.read_text()
    assert "| W1 enqueue, single calls |" in table
    assert "| W6 Redis bytes per pending task" in table
    assert proc.stdout.strip() == table.strip()


# --- the report's arithmetic, no Redis needed ---------------------------------------------------
def test_percentile_matches_linear_interpolation() -> None:
    values = [float(v) for v in range(1, 101)]
    assert suite.percentile(values, 50) == pytest.approx(50.5)
    assert suite.percentile(values, 99) == pytest.approx(99.01)
    assert math.isnan(suite.percentile([], 50))


def test_ratios_are_paired_per_repeat_and_targets_evaluated() -> None:
    m = suite.Measurements(repeats=3)
    for rep, (ours, huey) in enumerate([(400.0, 100.0), (500.0, 100.0), (300.0, 100.0)]):
        m.put("W2t", "ours", rep, ours)
        m.put("W2t", "huey", rep, huey)
    ratios = suite.paired_ratios(m.get("W2t", "ours"), m.get("W2t", "huey"))
    assert ratios == [4.0, 5.0, 3.0]
    row = next(r for r in suite.ROWS if r.metric == "W2t")
    assert suite.evaluate(row, m) == ("4.00×", "not met")  # the target is 6x huey
    for rep in range(3):
        m.put("W2t", "ours", rep, 700.0)
    assert suite.evaluate(row, m) == ("7.00×", "**met**")
    for rep, (ours, huey) in enumerate([(0.7, 1.0), (0.9, 1.0), (0.8, 1.0)]):
        m.put("W3p50", "ours", rep, ours)
        m.put("W3p50", "huey", rep, huey)
    p50 = next(r for r in suite.ROWS if r.metric == "W3p50")
    assert suite.evaluate(p50, m) == ("0.80×", "**met**")  # at most 0.8x huey
    m.put("W3p50", "ours", 2, 0.85)
    assert suite.evaluate(p50, m) == ("0.85×", "not met")
    m.put("W3p99", "ours", 0, 7.0)
    p99 = next(r for r in suite.ROWS if r.metric == "W3p99")
    assert suite.evaluate(p99, m)[1] == "not met"
    text = suite.table(m, "3.5.4")
    assert "7.00× (7.00–7.00)" in text
    assert "700 (700–700)" in text


def test_missing_huey_is_not_applicable() -> None:
    m = suite.Measurements(repeats=1)
    m.put("W1", "ours", 0, 1000.0)
    row = next(r for r in suite.ROWS if r.metric == "W1")
    assert suite.evaluate(row, m) == ("—", "n/a")
    assert "| — |" in suite.table(m, "not installed")


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_cpu_smoke_run(tmp_path: Path) -> None:
    """``python -m benchmarks.redis_cpu --smoke``: Redis CPU per task per workload, with
    the per-command breakdown (the slow log tells client-sent and script-run apart)."""
    data = tmp_path / "cpu.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.redis_cpu",
            "--smoke",
            "--only",
            "W1,W2",
            "--json",
            str(data),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    measured = json.loads(data.read_text())
    for workload in ("W1", "W2"):
        (run,) = measured["ours"][workload]
        assert run["cpu_us"] >= 0 and run["cmd_us"] > 0 and run["calls"] > 0, workload
    # A fresh call is one MULTI/EXEC: its commands are logged as sent (Redis keeps
    # EXEC itself out of the slow log); no script runs.
    assert {"multi", "hset", "rpush"} <= set(measured["ours"]["W1"][0]["top"])
    assert not measured["ours"]["W1"][0]["inner"]
    assert "per-command" not in proc.stdout and "W1: what each task costs" in proc.stdout


def test_the_sqlite_w6_row_compares_our_sqlite_with_hueys() -> None:
    m = suite.Measurements(repeats=1)
    m.put("W6s", "sqlite", 0, 150.0)
    m.put("W6s", "huey_sqlite", 0, 200.0)
    m.put("W6s", "ours", 0, 999.0)  # not this row's figure
    (row,) = [r for r in suite.ROWS if r.metric == "W6s"]
    assert suite.evaluate(row, m) == ("0.75×", "**met**")
    line = [x for x in suite.table(m, "3.5").splitlines() if "W6 SQLite" in x][0]
    assert "| 200 | 0.75× | 150 |" in line
