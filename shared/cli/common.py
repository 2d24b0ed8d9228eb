"""What every command shares: settings loading, one-line errors, named exit codes, JSON output."""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from typing import Any, NoReturn

import typer

from shared.errors import SettingsError
from shared.settings import Settings, load_settings


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIG = 3
    UNAVAILABLE = 4
    REFUSED = 5


def fail(message: str, code: Exit = Exit.FAILED) -> NoReturn:
    """One line on stderr, a named exit code."""
    typer.echo(f"paceline: {message}", err=True)
    raise typer.Exit(int(code))


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides) if overrides else load_settings()
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
