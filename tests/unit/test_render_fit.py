"""Terminal tables never fold a cell over lines: on a narrow terminal the cuttable
columns (args, errors) give way first, then task ids show their last 8 digits (which
every command accepts), then other text columns are cut with an ellipsis."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hueyctl import render

ERROR = "ValueError: the remote service refused the request because the token expired"


def _dead(n: int) -> list[Any]:
    return [
        SimpleNamespace(
            id=f"01a23461-5575-7000-baa9-4ba53cf914b{n}",
            name="yourapp.failing",
            failed_at=None,
            reason="failed",
            attempt=1,
            error=ERROR,
        )
        for n in range(n)
    ]


def test_fit_keeps_natural_widths_when_they_fit() -> None:
    columns = render.task_columns("failed", 0.0)
    cells = [[c.text(r) for c in columns] for r in _dead(2)]
    widths, shortened = render.fit(columns, cells, 200)
    assert not shortened and widths[0] == 36 and cells[0][0].endswith("914b0")


def test_fit_cuts_errors_then_shortens_ids_at_80_columns() -> None:
    columns = render.task_columns("failed", 0.0)
    cells = [[c.text(r) for c in columns] for r in _dead(2)]
    widths, shortened = render.fit(columns, cells, 80)
    assert shortened and [row[0] for row in cells] == ["3cf914b0", "3cf914b1"]
    assert sum(widths) + render._overhead(len(columns)) <= 80
    assert widths[1] == len("yourapp.failing")  # the task name stays whole


def test_a_terminal_table_at_80_columns_has_one_line_per_row(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(render, "stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    render.table(render.task_columns("failed", 0.0), _dead(3))
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 + 3 and all(len(line) <= 80 for line in lines), out
    assert "ValueError: the" in out and "3cf914b2" in out
    assert "ids shortened to their last 8 digits" in err
