"""``manage.py run_huey``: run hueyctl's consumer (at-least-once) for ``settings.HUEY``.

The options are huey's: -w/--workers, -k/--worker-type, -d/--delay, -m/--max-delay,
-b/--backoff, -c/--health-check-interval, -C/--disable-health-check, -f/--flush-locks,
-L/--extra-locks, -M/--max-tasks, -t/--shutdown-timeout, -g/--graceful-signal,
-s/--scheduler-interval, -n/--no-periodic, -l/--logfile, -V/--huey-verbose (huey's
-v: Django's own -v is --verbosity), -q/--quiet, -S/--simple and -A/--disable-autoload.
Given options win over ``settings.HUEY['consumer']``, which may also hold the
consumer's other settings (lease, heartbeat_interval, max_deliveries, prefetch ...).
Options that steer huey's polling (-d, -m, -b) and -C are accepted and do nothing
(docs/huey-differences.md); -A too, since the tasks modules are imported when
Django starts (AppConfig.ready), before any command runs.
"""

from __future__ import annotations

import logging
import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from engine.exceptions import ConfigurationError
from engine.preflight import check_store

log = logging.getLogger("huey.consumer")

# (short, long, argparse keywords): huey's consumer options, under huey's names.
OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("-l", "--logfile", dict(metavar="FILE", help="log to this file")),
    ("-V", "--huey-verbose", dict(action="store_true", dest="verbose", help="log debug messages")),
    ("-q", "--quiet", dict(action="store_false", dest="verbose", help="log warnings only")),
    ("-S", "--simple", dict(action="store_true", dest="simple_log", help="log time and message")),
    ("-w", "--workers", dict(type=int, help="worker threads or processes (default 1)")),
    (
        "-k",
        "--worker-type",
        dict(
            dest="worker_type",
            choices=("thread", "process", "greenlet"),
            help="thread (default) or process; greenlet is not offered",
        ),
    ),
    ("-d", "--delay", dict(type=float, dest="initial_delay", help="accepted, no effect")),
    ("-m", "--max-delay", dict(type=float, dest="max_delay", help="accepted, no effect")),
    ("-b", "--backoff", dict(type=float, help="accepted, no effect")),
    (
        "-c",
        "--health-check-interval",
        dict(type=float, dest="health_check_interval", help="seconds between checks"),
    ),
    (
        "-C",
        "--disable-health-check",
        dict(action="store_false", dest="check_worker_health", help="accepted, no effect"),
    ),
    ("-f", "--flush-locks", dict(action="store_true", help="clear every task lock at start")),
    ("-L", "--extra-locks", dict(dest="extra_locks", help="locks to clear, comma-separated")),
    ("-M", "--max-tasks", dict(type=int, dest="max_tasks", help="exit after this many tasks")),
    (
        "-t",
        "--shutdown-timeout",
        dict(type=float, dest="shutdown_timeout", help="seconds running tasks get on stop"),
    ),
    (
        "-g",
        "--graceful-signal",
        dict(dest="graceful_signal", choices=("INT", "TERM"), help="both stop gracefully"),
    ),
    (
        "-s",
        "--scheduler-interval",
        dict(type=float, dest="scheduler_interval", help="longest scheduler sleep (s)"),
    ),
    (
        "-n",
        "--no-periodic",
        dict(action="store_false", dest="periodic", help="do not fire periodic tasks"),
    ),
)
CONSUMER_KEYS = tuple(str(kw.get("dest") or long[2:].replace("-", "_")) for _, long, kw in OPTIONS)


def consumer_options(options: dict[str, Any]) -> dict[str, Any]:
    """``settings.HUEY['consumer']`` overlaid with the options given on the command line."""
    from engine.contrib.djhuey.config import consumer_settings

    merged = consumer_settings()
    merged.update({k: options[k] for k in CONSUMER_KEYS if options.get(k) is not None})
    if merged.get("worker_type") == "greenlet":
        raise CommandError("worker type 'greenlet' is not offered: use -k thread or -k process")
    extra = merged.get("extra_locks")
    if isinstance(extra, str):
        merged["extra_locks"] = tuple(n.strip() for n in extra.split(",") if n.strip())
    return merged


def setup_logging(logfile: str | None, verbose: bool | None, simple: bool | None) -> None:
    """Give the consumer's loggers ("huey" and "engine") a handler, as huey's run_huey
    does for "huey": unless Django's LOGGING already gave them one."""
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler()
    fmt = "[%(asctime)s] %(levelname)s:%(name)s: %(message)s"
    if simple:
        fmt = "%(asctime)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt, "%H:%M:%S" if simple else None))
    level = logging.INFO if verbose is None else logging.DEBUG if verbose else logging.WARNING
    for name in ("huey", "engine"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(level)


class Command(BaseCommand):
    """Run the queue consumer: ``python manage.py run_huey -w 4``."""

    help = "Run hueyctl's consumer (at-least-once) for settings.HUEY."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """huey's consumer options, and -A/--disable-autoload."""
        for short, long, kwargs in OPTIONS:
            parser.add_argument(short, long, default=None, **kwargs)
        parser.add_argument(
            "-A",
            "--disable-autoload",
            action="store_true",
            dest="disable_autoload",
            help="accepted, no effect: tasks.py modules are imported when Django starts",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the consumer from the settings and the options, and run it."""
        from engine.contrib.djhuey import HUEY

        merged = consumer_options(options)
        logging_opts = [merged.pop(k, None) for k in ("logfile", "verbose", "simple_log")]
        if HUEY.immediate:
            raise CommandError(
                "settings.HUEY is in immediate mode (tasks run when called; 'immediate' "
                "defaults to DEBUG): set HUEY['immediate'] = False to run a consumer"
            )
        setup_logging(*logging_opts)
        checked = check_store(HUEY.storage)
        if merged.get("worker_type") == "process":
            connections.close_all()  # the worker processes are forked: none shares ours
        try:
            runner: Any = HUEY.create_consumer(**merged)
        except (ConfigurationError, ValueError) as exc:
            raise CommandError(f"settings.HUEY['consumer'] or an option: {exc}") from None
        if hasattr(runner, "store_record"):
            runner.store_record = checked.record()
        log.info(
            "run_huey: queue %r on %s, %s %s worker(s), %d task(s), %d periodic",
            HUEY.name,
            HUEY.storage.describe(),
            runner.workers,
            merged.get("worker_type", "thread"),
            len(HUEY.tasks),
            len(HUEY.periodic_tasks()) if merged.get("periodic", True) else 0,
        )
        runner.run()
        if runner.restart:
            log.info("restarting (SIGHUP)")
            os.execv(sys.executable, [sys.executable, *sys.argv])
