"""Entry point of the `paceline` command; each command group lives in its own module."""

from __future__ import annotations

import importlib

import typer

# Each module exposes `register(app)`. Imports are cheap: heavy work happens inside commands.
COMMAND_MODULES = (
    "shared.cli.cmd_outcomes",
    "shared.cli.cmd_worker",
    "shared.cli.cmd_enqueue",
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
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="paceline",
        help="Answer support tickets with an LLM agent without surprising anyone with the bill.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    build_app()()


if __name__ == "__main__":
    main()
