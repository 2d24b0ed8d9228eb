"""Entry point of the `paceline` command; each command group lives in its own module.

`run` is the one place errors become a line and an exit code (shared/cli/failures.py), so a
command that meets a closed Redis port or a bad file says one line and never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

# Each module exposes `register(app)`. Imports are cheap: heavy work happens inside commands.
COMMAND_MODULES = (
    "shared.cli.cmd_outcomes",
    "shared.cli.cmd_tickets",
    "shared.cli.cmd_worker",
    "shared.cli.cmd_enqueue",
    "shared.cli.cmd_send",
    "shared.cli.cmd_webhook",
    "shared.cli.cmd_simulator",
    "shared.cli.cmd_up",
    "shared.cli.cmd_budget",
    "shared.cli.cmd_plan",
    "shared.cli.cmd_replay",
    "shared.cli.cmd_dlq",
    "shared.cli.cmd_scheduler",
    "shared.cli.cmd_simulate",
    "shared.cli.cmd_check",
    "shared.cli.cmd_archive",
    "shared.cli.cmd_report",
    "shared.cli.cmd_forget",
    "shared.cli.cmd_kb",
    "shared.cli.cmd_config",
    "shared.cli.cmd_tenants",
    "shared.cli.cmd_try",
)


def paceline_version() -> str:
    try:
        return version("paceline")
    except PackageNotFoundError:  # run from a checkout without an install
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"paceline {paceline_version()}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="paceline",
        help="Answer support tickets with an LLM agent without surprising anyone with the bill.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        _version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_show_version, is_eager=True, help="Print the version."
            ),
        ] = False,
        _debug: Annotated[
            bool, typer.Option("--debug", help="Print the traceback of an unexpected error.")
        ] = False,
    ) -> None:
        """Answer support tickets with an LLM agent without surprising anyone with the bill."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def run(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (the table in shared/cli/common.py)."""
    from shared.cli.failures import click_errors, describe, usage_line

    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(build_app())
    try:
        code = command.main(args=args, prog_name="paceline", standalone_mode=False)
    except click_errors("NoArgsIsHelpError") as exc:
        typer.echo(exc.format_message())  # type: ignore[attr-defined]
        return 2
    except click_errors("UsageError") as exc:
        typer.echo(usage_line(exc), err=True)
        return 2
    except click_errors("ClickException") as exc:
        typer.echo(f"paceline: {exc.format_message()}", err=True)  # type: ignore[attr-defined]
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except BrokenPipeError:
        return 0  # the reader (`| head`) has what it wanted
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            return exc.code if isinstance(exc.code, int) else 1
        if "--debug" in args:
            raise
        message, exit_code = describe(exc)
        typer.echo(f"paceline: {message}", err=True)
        return int(exit_code)
    return code if isinstance(code, int) else 0


def main() -> None:
    code = run()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that says nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)


if __name__ == "__main__":
    main()
