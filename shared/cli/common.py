"""What every command shares: settings loading, one-line errors, named exit codes, JSON output.

The exit codes are one table for every command (docs/cli.md lists them):
0 done (also "nothing to do") · 1 the command ran and part of it failed (invalid rows, failed
requeues) · 2 bad usage or input (an option, a file, an unknown reason) · 3 a setting is
wrong · 4 a service is unreachable (Redis, the broker, the webhook app) · 5 refused by policy
(over the redrive allowance, a change not confirmed) · 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import re
from datetime import datetime
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


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time_ms(value: str | None, now_s: float, name: str) -> int | None:
    """`--since`/`--until`: ISO-8601 (naive: local time), epoch ms, or `2h`/`30m`/`7d` ago."""
    if value is None:
        return None
    ago = _AGO.match(value.strip())
    if ago:
        return int((now_s - int(ago.group(1)) * _UNIT_S[ago.group(2)]) * 1000)
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name}: not a time: {value!r} (ISO-8601, epoch ms, or 2h/30m/7d)", Exit.USAGE)
    return int(parsed.timestamp() * 1000)
