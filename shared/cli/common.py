"""What every command shares: settings loading, one-line errors, named exit codes, JSON output.

The exit codes are one table for every command (docs/cli.md lists them):
0 done (also "nothing to do") · 1 the command ran and part of it failed (invalid rows, failed
requeues) · 2 bad usage or input (an option, a file, an unknown reason) · 3 a setting is
wrong · 4 a service is unreachable (Redis, the broker, the webhook app) · 5 refused by policy
(over the redrive allowance, a change not confirmed) · 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NoReturn

import typer

from shared.cli import output
from shared.display import safe_text
from shared.errors import SettingsError
from shared.settings import Settings, load_settings


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    UNAVAILABLE = 4
    REFUSED = 5
    INTERRUPTED = 130


def fail(message: str, code: Exit = Exit.FAILED) -> NoReturn:
    """One line on stderr, a named exit code."""
    typer.echo(f"paceline: {safe_text(message)}", err=True)
    raise typer.Exit(int(code))


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides) if overrides else load_settings()
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)


def print_json(doc: Any) -> None:
    output.print_json(doc)
