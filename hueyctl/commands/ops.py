"""Watch from outside: ``ping`` (is the queue served?) and ``metrics`` (Prometheus)."""

from __future__ import annotations

import click

from .. import probes
from ..errors import EXIT_FAILED, CommandError
from ..options import Connection, connection_options


@click.command()
@connection_options
def ping(conn: Connection) -> None:
    """Is the queue served by a live worker? For scripts and cron.

    Exit 0: at least one worker holds a live lease on the queue. Exit 1: none does.
    Exit 69: the store does not answer. One line either way.
    """
    insp = conn.inspector()
    alive = insp.live_workers()
    if not alive:
        raise CommandError(
            f"no live worker on queue {insp.huey.name!r} ({insp.describe()})", EXIT_FAILED
        )
    click.echo(f"ok: {alive} live worker(s) on queue {insp.huey.name!r}")


@click.command()
@connection_options
@click.option("--port", type=click.IntRange(0, 65535), default=9808, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface, e.g. in a container).",
)
@click.option("--once", is_flag=True, help="Print one scrape on stdout and exit.")
def metrics(conn: Connection, port: int, host: str, once: bool) -> None:
    """Serve the queue's Prometheus metrics at http://HOST:PORT/metrics.

    Read from what the store keeps (counts, leases, per-minute counters): a scrape
    costs a few reads whatever the queue's size and writes nothing. Needs the
    metrics extra: pip install 'hueyctl[metrics]'. See docs/deploy.md.
    """
    insp = conn.inspector()
    route = probes.metrics_route(insp, required=True)
    assert route is not None
    if once:
        click.echo(route()[2].decode(), nl=False)
        return
    server = probes.make_server(
        host, port, {"/metrics": route, "/readyz": probes.readiness_route(insp)}
    )
    bound = server.server_address[1]
    click.echo(
        f"hueyctl metrics: queue {insp.huey.name!r} at http://{host}:{bound}/metrics", err=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COMMANDS = (ping, metrics)
