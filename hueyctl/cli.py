"""The ``hueyctl`` root group: the one error boundary and the list of commands.

Commands stay thin: they parse options, call the engine (the facade or
``engine.inspect``) and print. Whatever goes wrong in one ends here as one line
on stderr with a password-free message and an exit code: 1 (failed, not found),
2 (usage) or 69 (store unreachable); ``HUEYCTL_DEBUG=1`` shows a traceback for
an unexpected error instead. Command modules never import this one: it imports
them and adds each with ``main.add_command``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from engine.exceptions import EngineError
from engine.urls import MASK, mask_url

from .commands import (
    acl,
    catalog,
    cleanup,
    demo,
    matching,
    ops,
    overview,
    pausing,
    steer,
    tasks,
    top,
    upgrade,
    worker,
)
from .errors import EXIT_UNAVAILABLE, CommandError, translate
from .options import CONNECTION, Connection, root_options

DRIVERS = ("redis", "sqlite3")  # a driver error that got past the store is the store's


def scrub(message: str, conn: Connection | None) -> str:
    """``message`` without the password of --url (the engine's own messages are
    masked already; a driver's may quote the URL or the password)."""
    if conn is None or not conn.url:
        return message
    message = message.replace(conn.url, mask_url(conn.url))
    for secret in conn.secrets():
        message = message.replace(secret, MASK)
    return message


def one_line(exc: Exception, conn: Connection | None) -> click.ClickException | None:
    """The one-line error an exception becomes; None for an unexpected one."""
    if isinstance(exc, EngineError):
        err = translate(exc)
        return CommandError(scrub(err.format_message(), conn), err.exit_code)
    if isinstance(exc, click.ClickException):
        text = scrub(exc.format_message(), conn)
        if text == exc.format_message():
            return exc
        return CommandError(text, exc.exit_code)
    if type(exc).__module__.split(".")[0] in DRIVERS:
        text = scrub(str(exc), conn)
        return CommandError(f"the store failed: {type(exc).__name__}: {text}", EXIT_UNAVAILABLE)
    return None


def _quiet_broken_pipe() -> NoReturn:
    """The reader of stdout went away (``hueyctl pending | head``): stop without a
    word and with exit 0, as ``head`` asked for no more (``set -o pipefail`` scripts
    go on), and point stdout at /dev/null so the interpreter's last flush is silent."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


class PipeClosed(Exception):
    """stdout's reader went away. Not an OSError, so click's own handler (exit 1)
    leaves it to ours (exit 0)."""


class Group(click.Group):
    """The root group: every error is one line on stderr, never a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # --help is printed while the arguments are parsed
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            raise PipeClosed() from None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Every error, usage errors included, is one line on stderr."""
        kwargs["standalone_mode"] = False
        try:
            super().main(*args, **kwargs)
            sys.stdout.flush()
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"hueyctl: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("hueyctl: aborted", err=True)
            sys.exit(1)
        except (BrokenPipeError, PipeClosed):
            _quiet_broken_pipe()
        sys.exit(0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, SystemExit, PipeClosed):
            raise
        except BrokenPipeError:
            raise PipeClosed() from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            err = one_line(exc, ctx.meta.get(CONNECTION))
            if err is exc:
                raise
            if err is not None:
                raise err from None
            if os.environ.get("HUEYCTL_DEBUG"):
                raise
            raise CommandError(
                f"internal error: {type(exc).__name__}: {exc} (HUEYCTL_DEBUG=1 shows the traceback)"
            ) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hueyctl")
@root_options
def main() -> None:
    """Run, inspect and steer task queues.

    -A/--app, --url and --queue go before the command or after it:
    'hueyctl -A main.huey status' is 'hueyctl status -A main.huey'.
    """


# Each command module exports its commands; none of them imports this module.
for _command in (
    *overview.COMMANDS,
    *tasks.COMMANDS,
    *steer.COMMANDS,
    *cleanup.COMMANDS,
    *pausing.COMMANDS,
    *ops.COMMANDS,
    *matching.COMMANDS,
    *catalog.COMMANDS,
    *upgrade.COMMANDS,
    worker.worker,
    top.top,
    demo.demo,
    acl.acl,
):
    main.add_command(_command)
