"""`paceline outcomes show|list|summary`: what happened to every accepted ticket."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.redis_client import make_redis
from shared.stores.outcomes import OutcomeStore

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _store() -> OutcomeStore:
    settings = settings_or_exit()
    return OutcomeStore(make_redis(settings, max_connections=4), Keys(settings.namespace))


def register(app: typer.Typer) -> None:
    outcomes = typer.Typer(help="What happened to each ticket.", no_args_is_help=True)
    app.add_typer(outcomes, name="outcomes")

    @outcomes.command()
    def show(ticket_id: str, as_json: JsonOpt = False) -> None:
        """One ticket's outcome."""
        outcome = _store().get(ticket_id)
        if outcome is None:
            fail(f"no ticket {ticket_id!r}", Exit.FAILED)
        doc = outcome.public()
        if as_json:
            print_json(doc)
            return
        table = Table(show_header=False)
        for key in sorted(doc):
            table.add_row(key, str(doc[key]))
        Console().print(table)

    @outcomes.command("list")
    def list_(
        status: Annotated[OutcomeStatus | None, typer.Option(help="Only this status.")] = None,
        limit: Annotated[int, typer.Option(min=1)] = 1000,
        as_json: JsonOpt = False,
    ) -> None:
        """Tickets and their status, oldest update first."""
        rows = []
        for outcome in _store().iter_outcomes(status):
            rows.append(outcome.public())
            if len(rows) >= limit:
                break
        if as_json:
            print_json(rows)
            return
        table = Table("ticket", "status", "reason", "model", "cost $", "latency ms")
        for row in rows:
            table.add_row(
                row["ticket_id"],
                row["status"],
                str(row["reason"] or ""),
                str(row["model"] or ""),
                f"{row['cost_usd']:.6f}",
                str(row["latency_ms"] or ""),
            )
        Console().print(table)

    @outcomes.command()
    def summary(as_json: JsonOpt = False) -> None:
        """Counts by status."""
        counts = _store().summary()
        if as_json:
            print_json(counts)
            return
        table = Table("status", "tickets")
        for key, n in counts.items():
            table.add_row(key, str(n))
        Console().print(table)
