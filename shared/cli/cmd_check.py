"""`paceline check [--json]`: the doctor, the first thing to run after configuring.

Settings, Redis and the broker (with versions), the provider with the configured key, every
configured model priced and offered, webhook sources, the ops token, the clock against
Redis's. Exit 0 when nothing failed (warnings included), 1 when a check failed, 3 when the
settings themselves do not validate.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from shared.cli import doctor
from shared.cli.common import Exit, print_json
from shared.cli.doctor import Row
from shared.errors import SettingsError
from shared.settings import load_settings


def run_checks() -> tuple[list[Row], bool]:
    """Every check's row, and whether the settings themselves failed."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        return [doctor.Row("settings", "fail", str(exc))], True
    provider = settings.azure_endpoint if settings.llm_provider == "azure" else None
    provider = provider or settings.llm_base_url or "the OpenAI API"
    rows = [doctor.Row("settings", "ok", f"valid; provider {settings.llm_provider} at {provider}")]
    rows += doctor.check_redis(settings)
    rows.append(doctor.check_broker(settings))
    rows += doctor.check_provider(settings)
    rows.append(doctor.check_webhooks(settings))
    rows.append(doctor.check_outbound(settings))
    rows.append(doctor.check_ops_token(settings))
    return rows, False


def register(app: typer.Typer) -> None:
    @app.command()
    def check(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    ) -> None:
        """Check the configuration and everything it points at; non-zero on any problem."""
        started = time.perf_counter()
        checked, settings_failed = run_checks()
        failed = [r.name for r in checked if r.status == "fail"]
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        if as_json:
            print_json({"ok": not failed, "failed": failed, "elapsed_ms": elapsed_ms,
                        "checks": [r.to_json() for r in checked]})  # fmt: skip
        else:
            _table(checked, elapsed_ms)
        if settings_failed:
            raise typer.Exit(int(Exit.CONFIG))
        if failed:
            raise typer.Exit(int(Exit.FAILED))


def _table(rows: list[Row], elapsed_ms: int) -> None:
    from rich.text import Text

    from shared.cli.output import print_table

    marks = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
    print_table(
        ("check", "", "detail"),
        [(row.name, Text(*marks[row.status]), row.detail) for row in rows],
        title=f"paceline check ({elapsed_ms} ms)",
    )
