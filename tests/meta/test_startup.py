"""Scripted calls start fast: the CLI module pulls in no terminal UI (rich, textual) and
no optional extra. Every ``hueyctl`` command imports ``hueyctl.cli``; rich is imported
only when there is a terminal to draw on (``hueyctl.render``), textual only by ``top``.
A cron job or a pipeline running hundreds of commands pays each import every time."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_pulls_in_no_terminal_ui_or_extra() -> None:
    code = "import sys, hueyctl.cli; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tops = {m.split(".")[0] for m in out.stdout.split()}
    assert not tops & {"rich", "textual", "textual_serve", "prometheus_client", "django"}
