"""``hueyctl worker APP``: run a consumer for the application's queue."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import click

from engine import loader
from engine.api import Huey
from engine.consumer import WORKER_TYPES, ConsumerSettings
from engine.exceptions import ConfigurationError
from engine.inspect import Inspector
from engine.preflight import EXIT_NOT_PERSISTENT, check_store

from .. import probes
from ..options import ROOT_OPTIONS, store_url

OWN_LOGGERS = ("huey", "engine", "hueyctl")  # the engine's and this tool's loggers
LOG_LEVELS = ("debug", "info", "warning", "error")


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``--log-format json``), for log collectors: ts (epoch
    seconds), time (ISO 8601, UTC), level, logger, process, pid, message, and
    exc_info (the traceback as text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 6),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _setup_logging(
    verbose: int, quiet: bool, logfile: str | None, level: str | None, fmt: str = "text"
) -> None:
    """Our loggers at INFO (``-v``: DEBUG, one line per task; ``-q``: WARNING); other
    libraries' (redis-py ...) at WARNING unless ``-vv`` or ``--log-level`` asks for more.
    ``fmt`` json: one JSON object per line."""
    handler: logging.Handler = (
        logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("[%(asctime)s] %(levelname)s %(processName)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if level is not None:
        own = others = getattr(logging, level.upper())
    else:
        own = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
        others = logging.DEBUG if verbose > 1 else logging.WARNING
    root.setLevel(others)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own)


def _banner(
    huey: Huey, who: str, workers: int, worker_type: str, periodic: bool, utc: bool | None
) -> str:
    periodic_n = len(huey.periodic_tasks()) if periodic else 0
    clock = "UTC" if (huey.utc if utc is None else utc) else "local time"
    return (
        f"hueyctl worker {who}: queue {huey.name!r} on {huey.storage.describe()}, "
        f"{workers} {worker_type} worker(s), {len(huey.tasks)} task(s), "
        f"{periodic_n} periodic, {clock}"
    )


def _task_lines(huey: Huey, periodic: bool) -> str:
    """The tasks this worker runs, one per line, periodic ones with their crontab (as
    huey_consumer lists its commands)."""
    lines = []
    for name, wrapper in sorted(huey.tasks.items()):
        line = f"  + {name}"
        if wrapper.periodic is not None:
            spec = getattr(wrapper.periodic, "spec", None) or "custom schedule"
            line += f"  (periodic: {spec}{'' if periodic else ', not fired: -n'})"
        lines.append(line)
    return "tasks:\n" + "\n".join(lines) if lines else "no tasks registered"


def _overrides(url: str | None, queue: str | None, own: str) -> list[str]:
    """What the banner adds about the store: an explicit --url/--queue replaced the
    app's, or the environment's was left unused (it never redirects a worker)."""
    out = []
    if url or queue:
        given = " and ".join(o for o, v in (("--url", url), ("--queue", queue)) if v)
        out.append(f"{given} given: this worker does not use the app's own store ({own})")
    unused = [
        e
        for e, v in (("HUEYCTL_URL", url), ("HUEYCTL_URL_FILE", url), ("HUEYCTL_QUEUE", queue))
        if os.environ.get(e) and not v
    ]
    if unused:
        out.append(
            f"{' and '.join(unused)} in the environment ignored: the app names its own store "
            "(--url/--queue on the command line override it)"
        )
    return out


# The worker reads no HUEYCTL_URL (the app's own store wins over the environment).
WORKER_SECRET_FIX = (
    "use --url-file PATH, or let the app read its URL from its own configuration (docs/security.md)"
)
DEFAULTS = ConsumerSettings()  # the consumer's defaults live there, once


def _serve_probes(huey: Huey, runner: Any, host: str, port: int) -> None:
    """/healthz, /readyz and /metrics from a thread of this process (see hueyctl.probes).
    ``runner`` (a Consumer, or the Supervisor of process workers) says if it is alive."""
    insp = Inspector(huey)
    routes = {
        "/healthz": probes.liveness_route(runner.liveness),
        "/readyz": probes.readiness_route(insp),
    }
    metrics = probes.metrics_route(insp, required=False)
    if metrics is not None:
        routes["/metrics"] = metrics
    server = probes.make_server(host, port, routes)
    probes.serve_in_thread(server)
    bound = server.server_address[1]
    log = logging.getLogger("hueyctl")
    log.info("probes at http://%s:%d/healthz, /readyz, /metrics", host, bound)


# fmt: off
@click.command()
@click.argument("app", required=False)
@click.option("-w", "--workers", type=click.IntRange(min=1), default=DEFAULTS.workers,
              show_default=True,
              help="Worker threads or processes (asyncio: tasks in flight on the loop).")
@click.option("-k", "--worker-type", type=click.Choice(list(WORKER_TYPES)),
              default=DEFAULTS.worker_type,
              show_default=True,
              help="Threads in one process, one process per worker (enforces timeout=),"
                   " or coroutines on one event loop (docs/asyncio.md).")
@click.option("-n", "--no-periodic", is_flag=True, help="Do not fire periodic tasks.")
@click.option("-s", "--scheduler-interval", default=DEFAULTS.scheduler_interval, show_default=True,
              help="Longest sleep between scheduler checks (seconds); due tasks wake it sooner.")
@click.option("-o", "--localtime", is_flag=True, help="Evaluate crontabs in local time.")
@click.option("-u", "--utc", is_flag=True, help="Evaluate crontabs in UTC (the default).")
@click.option("-v", "--verbose", count=True,
              help="Log one line per task start, finish, retry and failure (-vv: also the"
                   " libraries' debug messages, e.g. redis-py's).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              help="Log at this level, every library included (overrides -v/-q).")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors.")
@click.option("-l", "--logfile", type=click.Path(dir_okay=False), help="Log to this file.")
@click.option("-f", "--flush-locks", is_flag=True, help="Clear every task lock at start.")
@click.option("-t", "--shutdown-timeout", type=float, default=DEFAULTS.shutdown_timeout,
              show_default=True,
              help="Seconds running tasks get to finish on SIGTERM before being handed back.")
@click.option("-c", "--health-check-interval", type=float,
              default=DEFAULTS.health_check_interval, show_default=True,
              help="How often process workers are checked and dead ones replaced (seconds).")
@click.option("--cancel-grace", type=click.FloatRange(min=0), default=DEFAULTS.cancel_grace,
              show_default=True,
              help="Process workers: seconds a cancelled task gets to stop after being"
                   " interrupted before its process is killed and replaced.")
@click.option("--lease", type=float, default=DEFAULTS.lease, show_default=True,
              help="Seconds without a heartbeat after which this worker's tasks are recovered.")
@click.option("--heartbeat", type=float, default=DEFAULTS.heartbeat_interval, show_default=True,
              help="Seconds between heartbeats (lease, registry, statistics, recovery sweep).")
@click.option("--max-deliveries", type=int, default=DEFAULTS.max_deliveries, show_default=True,
              help="Deliveries without finishing before a task is dead-lettered as poison.")
@click.option("--max-tasks", type=int, help="Exit after running this many tasks.")
@click.option("--prefetch", type=int, default=DEFAULTS.prefetch,
              help="Tasks claimed ahead of free workers [default: what the worker gets"
                   " through in about 5 ms, up to 8 per thread (at most 64) or 32 per process].")
@click.option("--require-persistence", is_flag=True,
              help="Refuse to start (exit 69) on a Redis that keeps nothing on disk.")
@click.option("--durable", is_flag=True,
              help="Redis: confirm each finish (and enqueue) on a replica (WAIT 1) before"
                   " going on; see docs/operating.md.")
@click.option("--url", metavar="URL",
              help="Use this store instead of the app's (redis://, sqlite:///path ...);"
                   " HUEYCTL_URL does not: the app's own store wins over the environment.")
@click.option("--url-file", metavar="PATH",
              help="As --url, read from this file (its first non-empty line): keeps a"
                   " password out of ps.")
@click.option("--queue", metavar="NAME",
              help="Consume this queue name instead of the app's (HUEYCTL_QUEUE does not).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per log line.")
@click.option("--health-port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Serve /healthz, /readyz (and /metrics with the metrics extra) on PORT.")
@click.option("--health-host", default="127.0.0.1", show_default=True, metavar="ADDR",
              help="Address of --health-port (0.0.0.0 in a container, for the kubelet).")
def worker(app: str | None, workers: int, worker_type: str, no_periodic: bool,
           scheduler_interval: float, localtime: bool, utc: bool, verbose: int,
           log_level: str | None, quiet: bool, logfile: str | None, flush_locks: bool,
           shutdown_timeout: float, health_check_interval: float, cancel_grace: float,
           lease: float, heartbeat: float, max_deliveries: int,
           max_tasks: int | None, prefetch: int | None, require_persistence: bool,
           durable: bool, url: str | None, url_file: str | None, queue: str | None,
           log_format: str, health_port: int | None, health_host: str) -> None:
    """Run a consumer for APP (module.attr of a Huey instance, e.g. main.huey).

    APP may also come before the command: 'hueyctl -A main.huey worker'. The app's
    own store and queue are used: only --url/--queue on the command line change them
    (HUEYCTL_URL/HUEYCTL_QUEUE, exported for admin commands, do not).

    SIGINT/SIGTERM stop it gracefully (a second one at once); SIGHUP restarts it.
    """
    if localtime and utc:
        raise click.UsageError("choose one of -o/--localtime and -u/--utc")
    if heartbeat >= lease:
        raise click.UsageError("--heartbeat must be shorter than --lease")
    ctx = click.get_current_context()
    root = ctx.meta.get(ROOT_OPTIONS, {})
    app, queue = app or root.get("app"), queue or root.get("queue")
    url, _ = store_url(ctx, url, url_file, WORKER_SECRET_FIX)
    if not app:
        raise click.UsageError("give the APP to run: hueyctl worker main.huey")
    huey = loader.load_queue(app)
    own = huey.storage.describe()
    if url or queue:
        huey.use_store(url, queue)
    _setup_logging(verbose, quiet, logfile, log_level, log_format)
    if durable:
        set_durable = getattr(huey.storage, "set_durable", None)
        if set_durable is None:
            raise click.UsageError("--durable needs a Redis store")
        try:
            set_durable(True)
        except ConfigurationError as exc:
            raise click.UsageError(str(exc)) from exc
    options: dict[str, Any] = dict(
        periodic=not no_periodic, utc=False if localtime else (True if utc else None),
        scheduler_interval=scheduler_interval, shutdown_timeout=shutdown_timeout,
        lease=lease, heartbeat_interval=heartbeat, recovery_interval=heartbeat,
        max_deliveries=max_deliveries, max_tasks=max_tasks, cancel_grace=cancel_grace,
    )
    checked = check_store(huey.storage, require_persistence)  # warns once, here
    if checked.refusal:
        click.echo(f"hueyctl worker: {checked.refusal}", err=True)
        sys.exit(EXIT_NOT_PERSISTENT)
    if flush_locks:
        huey.flush_locks()
    log = logging.getLogger("hueyctl")
    runner: Any
    if worker_type == "process":
        from engine.supervisor import Supervisor

        runner = Supervisor(huey, workers, check_interval=health_check_interval, **options)
        who = f"supervisor pid {os.getpid()}"
    else:
        # worker_type: "asyncio" runs the tasks on one event loop (engine.aio); it was
        # not passed before, so -k asyncio ran thread workers.
        runner = huey.create_consumer(
            workers=workers, worker_type=worker_type, prefetch=prefetch, **options
        )
        runner.store_record = checked.record()
        who = runner.consumer_id
    log.info(_banner(huey, who, workers, worker_type, not no_periodic, options["utc"]))
    log.info(_task_lines(huey, not no_periodic))
    for line in _overrides(url, queue, own):
        log.warning(line)
    if health_port is not None:
        _serve_probes(huey, runner, health_host, health_port)
    runner.run()
    if runner.restart:
        log.info("restarting (SIGHUP)")
        os.execv(sys.executable, [sys.executable, "-m", "hueyctl", *sys.argv[1:]])
# fmt: on
