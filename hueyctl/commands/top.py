"""``hueyctl top``: the live dashboard (see hueyctl/tui/)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click
from click.core import ParameterSource

from engine.api import Huey
from engine.inspect import Inspector

from ..errors import EXIT_USAGE, CommandError
from ..options import Connection, connection_options
from ..serve import given_by_parent


def require_terminal() -> None:
    """Refuse to draw a full-screen dashboard into a pipe or a file (as htop and k9s do):
    one line and exit 2, instead of escape codes in the pipe and no end."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            "top needs a terminal (stdin and stdout); for a script use "
            "`hueyctl status --watch` or `status --json`",
            EXIT_USAGE,
        )


def run_top(huey: Huey, interval: float = 1.0, read_only: bool = False) -> None:
    """Run the dashboard of ``huey``'s queue until the operator quits (``hueyctl demo``
    calls this too). Textual is imported here, not when the CLI loads."""
    from ..tui.actions import Actions
    from ..tui.app import make_app

    make_app(Inspector(huey), Actions(huey), time.time, interval, read_only=read_only).run()


def serve_top(conn: Connection, interval: float, read_only: bool, web: dict[str, Any]) -> None:
    """``top --serve``: check the exposure, hand the connection to the children in
    their environment, and serve (hueyctl.serve)."""
    from .. import serve

    serve.check_exposure(
        web["host"], web["token"], web["certfile"], web["keyfile"], web["public_url"]
    )
    name = conn.inspector().huey.name  # a wrong store or queue is said here, once
    os.environ.update(serve.child_environment(conn.app, conn.url, conn.queue, conn.given))
    serve.serve(
        serve.child_command(read_only, interval),
        web["host"],
        web["port"],
        f"hueyctl top: {name}",
        web["token"],
        web["certfile"],
        web["keyfile"],
        web["public_url"],
    )


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
@click.option("--read-only", is_flag=True, help="Hide every action that changes the queue.")
@click.option(
    "--serve",
    "serve_",
    is_flag=True,
    help="Serve the dashboard to browsers (textual-serve; the serve extra).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="--serve: address to listen on (off loopback: --token and TLS needed).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="--serve: port."
)
@click.option(
    "--token",
    envvar="HUEYCTL_TOP_TOKEN",
    metavar="TOKEN",
    help="--serve: the secret a browser gives once as ?token= [env HUEYCTL_TOP_TOKEN].",
)
@click.option("--certfile", type=click.Path(dir_okay=False), help="--serve: TLS certificate.")
@click.option("--keyfile", type=click.Path(dir_okay=False), help="--serve: TLS private key.")
@click.option(
    "--public-url",
    metavar="URL",
    help="--serve: the address browsers use (a TLS proxy's https://...).",
)
def top(conn: Connection, interval: float, read_only: bool, serve_: bool, **web: Any) -> None:
    """Live dashboard of the queue, like htop: counts, throughput, workers, listings.

    Keys: 1-7 tabs, / filter, Enter details, r revoke, u restore, R retry, D delete,
    p pause, ? help, q or Ctrl-C quit. Works with --app or with --url/--queue
    alone. Needs a terminal: with stdin or stdout not one it exits 2.

    --serve: the same dashboard in a browser at http://127.0.0.1:8000 (one app per
    tab, the same keys); see docs/deploy.md for serving it off loopback.
    """
    if serve_:
        serve_top(conn, interval, read_only, web)
        return
    ctx = click.get_current_context()
    stray = [
        f"--{name.replace('_', '-')}"
        for name in web
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    ]
    if stray:
        raise CommandError(f"{', '.join(stray)}: only with --serve", EXIT_USAGE)
    given = given_by_parent()  # None unless top --serve started us: no terminal then
    if given is None:
        require_terminal()
    else:
        conn.given = conn.given | given
    run_top(conn.huey, interval, read_only)
