"""``hueyctl top``: the live dashboard (see hueyctl/tui/)."""

from __future__ import annotations

import time

import click

from engine.api import Huey
from engine.inspect import Inspector

from ..options import Connection, connection_options


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
    p pause, ? help, q quit. Works with --app or with --url/--queue alone.
    """
    run_top(conn.huey, interval)
