"""``hueyctl top``: the live dashboard (see hueyctl/tui/)."""

from __future__ import annotations

import sys
import time

import click

from engine.api import Huey
from engine.inspect import Inspector

from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, connection_options


def require_terminal() -> None:
    """Refuse to draw a full-screen dashboard into a pipe or a file (as htop and k9s do):
    one line and exit 2, instead of escape codes in the pipe and no end."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            "top needs a terminal (stdin and stdout); for a script use "
            "`hueyctl status --watch` or `status --json`",
            EXIT_USAGE,
        )


def run_top(huey: Huey, interval: float = 1.0) -> None:
    """Run the dashboard of ``huey``'s queue until the operator quits (``hueyctl demo``
    calls this too). Textual is imported here, not when the CLI loads."""
    from ..tui.actions import Actions
    from ..tui.app import make_app

    make_app(Inspector(huey), Actions(huey), time.time, interval).run()


@click.command()
@connection_options
@click.option(
    "-i",
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
def top(conn: Connection, interval: float) -> None:
    """Live dashboard of the queue, like htop: counts, throughput, workers, listings.

    Keys: 1-7 tabs, / filter, Enter details, r revoke, u restore, R retry, D delete,
    p pause, ? help, q or Ctrl-C quit. Works with --app or with --url/--queue
    alone. Needs a terminal: with stdin or stdout not one it exits 2.
    """
    require_terminal()
    run_top(conn.huey, interval)
