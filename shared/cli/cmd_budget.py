"""`paceline budget status|set|audit`: the day's spend, and caps changed at runtime."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.clock import SystemClock
from shared.keys import Keys
from shared.ledger import Ledger
from shared.redis_client import make_redis

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _ledger() -> Ledger:
    settings = settings_or_exit()
    return Ledger(
        make_redis(settings, max_connections=4), Keys(settings.namespace), settings, SystemClock()
    )


def register(app: typer.Typer) -> None:
    budget = typer.Typer(help="Today's spend and the caps.", no_args_is_help=True)
    app.add_typer(budget, name="budget")

    @budget.command()
    def status(as_json: JsonOpt = False) -> None:
        """Today's ceiling, spend, reservations and pace."""
        from shared.budget_status import budget_status

        settings = settings_or_exit()
        doc = budget_status(_ledger(), settings, SystemClock())
        if as_json:
            print_json(doc)
            return
        table = Table(show_header=False, title=f"budget day {doc['day']} ({doc['timezone']})")
        for key in (
            "ceiling_usd",
            "spent_usd",
            "reserved_usd",
            "remaining_usd",
            "pace_usd_per_hour",
            "pace_line_usd",
            "llm_calls",
        ):
            table.add_row(key, str(doc[key]))
        Console().print(table)

    @budget.command("set")
    def set_(
        scope: Annotated[
            str,
            typer.Argument(help="global | tenant:<id> | tenant:* | user:<tenant>:<id> | user:*"),
        ],
        usd: Annotated[str, typer.Argument(help="New daily cap in USD.")],
        who: Annotated[
            str | None, typer.Option(help="Who is changing it (default: $USER).")
        ] = None,
        note: Annotated[str, typer.Option(help="Why.")] = "",
        as_json: JsonOpt = False,
    ) -> None:
        """Change a daily cap now; the change is audited."""
        from shared.budget_status import set_cap

        try:
            entry = set_cap(_ledger(), scope, usd, who=who, note=note)
        except (ValueError, ArithmeticError) as exc:
            fail(str(exc), Exit.USAGE)
        if as_json:
            print_json(entry)
        else:
            typer.echo(f"{scope}: {entry['old_usd']} -> {entry['new_usd']} USD ({entry['who']})")

    @budget.command()
    def audit(as_json: JsonOpt = False, limit: int = 50) -> None:
        """Who changed which cap, and when (newest first)."""
        settings = settings_or_exit()
        r = make_redis(settings, max_connections=2)
        rows = [json.loads(x) for x in r.lrange(Keys(settings.namespace).caps_audit, 0, limit - 1)]
        if as_json:
            print_json(rows)
            return
        for row in rows:
            typer.echo(json.dumps(row))
