"""`paceline config`: the effective settings, as every process of this environment reads them,
secrets masked."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import SecretStr

from shared.cli.common import print_json, settings_or_exit
from shared.cli.output import print_table
from shared.settings import ENV_PREFIX, Settings

MASK = "********"


def effective(settings: Settings) -> list[dict[str, Any]]:
    """Each setting: its variable, its value (secrets masked), and whether it was set."""
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        secret = isinstance(value, SecretStr)
        if secret:
            shown: Any = MASK
        elif isinstance(value, dict | list | str | int | float | bool) or value is None:
            shown = value
        else:
            shown = str(value)
        rows.append(
            {
                "name": ENV_PREFIX + name.upper(),
                "value": shown,
                "set": name in settings.model_fields_set,
                "secret": secret,
            }
        )
    return rows


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
        all_: Annotated[
            bool, typer.Option("--all", help="Every setting, defaults included.")
        ] = False,
    ) -> None:
        """The effective settings (environment and .env over the defaults), secrets masked."""
        rows = effective(settings_or_exit())
        if as_json:
            print_json({row["name"]: row["value"] for row in rows})
            return
        shown = [r for r in rows if all_ or r["set"]]
        print_table(
            ("setting", "value", "from"),
            [
                (
                    r["name"],
                    "" if r["value"] is None else str(r["value"]),
                    "set" if r["set"] else "default",
                )
                for r in shown
            ],
            title="effective settings" + ("" if all_ else " (set ones; --all for every one)"),
        )
