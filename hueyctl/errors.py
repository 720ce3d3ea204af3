"""Engine errors become one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import click

from engine.exceptions import ConfigurationError, EngineError, StoreUnavailable

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE


class CommandError(click.ClickException):
    """A failed operation: one line, exit 1 (or the given code)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        # click declares exit_code per class (a ClassVar); each of ours carries its own.
        setattr(self, "exit_code", exit_code)  # noqa: B010

    def show(self, file: object = None) -> None:
        click.echo(f"hueyctl: {self.format_message()}", err=True)


def translate(exc: EngineError) -> click.ClickException:
    if isinstance(exc, StoreUnavailable):
        return CommandError(str(exc), EXIT_UNAVAILABLE)
    if isinstance(exc, ConfigurationError):
        return CommandError(str(exc), EXIT_USAGE)
    return CommandError(str(exc))
