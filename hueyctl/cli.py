"""The ``hueyctl`` command group. Commands stay thin: they parse options, call the
engine (facade or ``engine.inspect``) and print; engine errors become one line."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.exceptions import EngineError

from .errors import CommandError, translate

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Run a command body, turning engine errors into one-line messages."""

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EngineError as exc:
            raise translate(exc) from None

    return inner  # type: ignore[return-value]


class Group(click.Group):
    """The root group: an unexpected error is one line, not a traceback
    (``HUEYCTL_DEBUG=1`` shows the traceback)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Every error, usage errors included, is one line on stderr."""
        kwargs["standalone_mode"] = False
        try:
            super().main(*args, **kwargs)
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
        sys.exit(0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if os.environ.get("HUEYCTL_DEBUG"):
                raise
            raise CommandError(
                f"internal error: {type(exc).__name__}: {exc} (HUEYCTL_DEBUG=1 shows the traceback)"
            ) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hueyctl")
def main() -> None:
    """Run, inspect and steer task queues."""


# Each module registers its commands on ``main``.
from . import admin, demo, top_cmd, worker_cmd  # noqa: E402,F401
