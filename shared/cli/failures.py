"""Every error that reaches the top of a command, as one line and an exit code (the table in
shared/cli/common.py). Nothing prints a traceback unless `--debug` asked for it."""

from __future__ import annotations

import csv
from typing import Any

import click

from shared.cli.common import Exit
from shared.display import safe_text
from shared.errors import PacelineError, SettingsError


def _click_exceptions() -> list[Any]:
    """click's exception module, and typer's own copy of click where typer vendors one: a
    usage error may come from either, depending on the typer release."""
    import typer.exceptions

    found: list[Any] = [click.exceptions, typer.exceptions]
    try:
        import typer._click.exceptions as vendored

        found.append(vendored)
    except ImportError:
        pass
    return found


def click_errors(name: str) -> tuple[type[BaseException], ...]:
    """Every class of that name in those modules (none is an empty tuple: catches nothing)."""
    found = (getattr(module, name, None) for module in _click_exceptions())
    return tuple({cls for cls in found if isinstance(cls, type)})


def _one_line(text: Any) -> str:
    return " ".join(safe_text(text).split()) or "no detail"


def _service(exc: BaseException) -> str | None:
    """Which service an error says is unreachable, if it is that kind of error."""
    import redis

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return f"Redis is unreachable ({_one_line(exc)})"
    try:
        import dramatiq.errors
        import pika.exceptions

        if isinstance(exc, dramatiq.errors.ConnectionError | pika.exceptions.AMQPError):
            return f"the broker is unreachable ({type(exc).__name__}: {_one_line(exc)})"
    except ImportError:  # pragma: no cover - both ship with paceline
        pass
    import httpx

    if isinstance(exc, httpx.TransportError):
        return f"cannot reach {_one_line(getattr(exc.request, 'url', ''))}: {type(exc).__name__}"
    return None


def describe(exc: BaseException) -> tuple[str, Exit]:
    """The line and the exit code for an error no command handled itself."""
    import redis

    if isinstance(exc, (KeyboardInterrupt, *click_errors("Abort"))):
        return "interrupted", Exit.INTERRUPTED
    if isinstance(exc, SettingsError):
        return _one_line(exc), Exit.CONFIG
    if isinstance(exc, redis.AuthenticationError):
        return f"Redis refused the credentials in PACELINE_REDIS_URL ({_one_line(exc)})", (
            Exit.CONFIG
        )
    unreachable = _service(exc)
    if unreachable is not None:
        return unreachable, Exit.UNAVAILABLE
    if isinstance(exc, redis.RedisError):
        return f"Redis error: {type(exc).__name__}: {_one_line(exc)}", Exit.UNAVAILABLE
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})", Exit.USAGE
    if isinstance(exc, csv.Error):
        return f"not valid CSV: {_one_line(exc)}", Exit.USAGE
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{_one_line(exc.filename)}: {exc.strerror or type(exc).__name__}", Exit.USAGE
    if isinstance(exc, PacelineError):
        return _one_line(exc), Exit.FAILED
    return (
        f"unexpected error: {type(exc).__name__}: {_one_line(exc)} "
        "(paceline --debug ... prints the traceback)",
        Exit.FAILED,
    )


def usage_line(exc: Any) -> str:
    """A click usage error as one line naming the command and where its help is."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "paceline"
    return f"{path}: {_one_line(exc.format_message())} (see {path} --help)"
