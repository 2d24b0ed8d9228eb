"""`paceline report spend|tickets|resolutions`: what the history database says about money."""

from __future__ import annotations

import csv
import sys
from datetime import date
from typing import Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit

FromOpt = Annotated[
    str | None, typer.Option("--from", help="First budget day, YYYY-MM-DD (default: the 1st).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last budget day (default: today).")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="One tenant only.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
BY_CHOICES = ("tenant", "day", "model", "lane")


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)", Exit.USAGE)


def period_from(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The period the options name; this month so far by default."""
    start = _day(first, "--from") if first else today.replace(day=1)
    end = _day(last, "--to") if last else today
    if start > end:
        fail(f"--from {start} is after --to {end}", Exit.USAGE)
    return start, end


def _emit(rows: list[dict[str, Any]], doc: dict[str, Any], as_csv: bool, as_json: bool) -> None:
    if as_json:
        print_json(doc)
    elif as_csv:
        if rows:
            out = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            out.writeheader()
            out.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=doc["title"])
        # The table shows dollars; micro-dollars are in --csv and --json.
        shown = [n for n in rows[0] if n != "cost_micros"] if rows else ["(no rows)"]
        for name in shown:
            text_column = name in doc["text_columns"]
            table.add_column(
                name, justify="left" if text_column else "right", no_wrap=text_column,
                overflow="fold",
            )  # fmt: skip
        for row in rows:
            table.add_row(*(str(row[n] if row[n] is not None else "") for n in shown))
        Console().print(table)


def register(app: typer.Typer) -> None:
    report = typer.Typer(help="Spend and tickets from the history database.", no_args_is_help=True)
    app.add_typer(report, name="report")

    def setup(first: str | None, last: str | None, as_csv: bool, as_json: bool) -> Any:
        from shared.cli.history_db import history_engine
        from shared.clock import SystemClock, budget_day
        from shared.history.reports import Period

        if as_csv and as_json:
            fail("--csv and --json exclude each other", Exit.USAGE)
        settings = settings_or_exit()
        today = date.fromisoformat(budget_day(SystemClock().now_s(), settings.tz))
        start, end = period_from(first, last, today)
        return history_engine(settings), Period(start, end)

    @report.command()
    def spend(
        by: Annotated[str, typer.Option("--by", help="tenant | day | model | lane")] = "tenant",
        first: FromOpt = None,
        last: ToOpt = None,
        tenant: TenantOpt = None,
        as_csv: CsvOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Calls, tokens and cost over budget days, grouped one way."""
        from sqlalchemy.exc import SQLAlchemyError

        from shared.history import reports
        from shared.history.writer import first_line
        from shared.money import micros_to_usd

        if by not in BY_CHOICES:
            fail(f"--by: {by!r} is not one of {', '.join(BY_CHOICES)}", Exit.USAGE)
        engine, period = setup(first, last, as_csv, as_json)
        try:
            rows = reports.spend(engine, period, by, tenant=tenant)  # type: ignore[arg-type]
        except SQLAlchemyError as exc:
            fail(f"history database: {first_line(exc)}", Exit.UNAVAILABLE)
        finally:
            engine.dispose()
        for row in rows:
            row["cost_usd"] = micros_to_usd(row["cost_micros"])
        total = sum(r["cost_micros"] for r in rows)
        doc = {
            "title": f"spend by {by}, {period.first} to {period.last}",
            "text_columns": [by],
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "by": by,
            "tenant": tenant,
            "rows": rows,
            "total_cost_micros": total,
            "total_cost_usd": micros_to_usd(total),
            "total_calls": sum(r["calls"] for r in rows),
        }
        _emit(rows, doc, as_csv, as_json)

    @report.command()
    def tickets(
        min_cost: Annotated[
            str, typer.Option("--min-cost", help="Tickets that cost at least this, in USD.")
        ] = "0.10",
        first: FromOpt = None,
        last: ToOpt = None,
        tenant: TenantOpt = None,
        limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
        as_csv: CsvOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """The tickets that cost the most (all their model calls in the period)."""
        from decimal import InvalidOperation

        from sqlalchemy.exc import SQLAlchemyError

        from shared.history import reports
        from shared.history.writer import first_line
        from shared.money import micros_to_usd, usd_to_micros

        try:
            min_micros = usd_to_micros(min_cost)
        except (InvalidOperation, ValueError):
            fail(f"--min-cost: {min_cost!r} is not an amount in USD", Exit.USAGE)
        if min_micros < 0:
            fail("--min-cost: must not be negative", Exit.USAGE)
        engine, period = setup(first, last, as_csv, as_json)
        try:
            rows = reports.tickets(
                engine, period, min_cost_micros=min_micros, tenant=tenant, limit=limit
            )
        except SQLAlchemyError as exc:
            fail(f"history database: {first_line(exc)}", Exit.UNAVAILABLE)
        finally:
            engine.dispose()
        for row in rows:
            row["cost_usd"] = micros_to_usd(row["cost_micros"])
        doc = {
            "title": f"tickets costing at least ${min_cost}, {period.first} to {period.last}",
            "text_columns": ["tenant_id", "ticket_id", "first_day", "last_day", "status"],
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "min_cost_micros": min_micros,
            "tenant": tenant,
            "rows": rows,
        }
        _emit(rows, doc, as_csv, as_json)

    @report.command()
    def resolutions(
        first: FromOpt = None,
        last: ToOpt = None,
        tenant: TenantOpt = None,
        as_csv: CsvOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Resolutions per budget day and tenant, and what each cost (all model spend)."""
        from sqlalchemy.exc import SQLAlchemyError

        from shared.conversation.report import COMMERCIAL_USD_PER_RESOLUTION
        from shared.history import reports
        from shared.history.writer import first_line
        from shared.money import micros_to_usd

        engine, period = setup(first, last, as_csv, as_json)
        tz = settings_or_exit().tz
        try:
            rows = reports.resolutions(engine, period, tz, tenant=tenant)
        except SQLAlchemyError as exc:
            fail(f"history database: {first_line(exc)}", Exit.UNAVAILABLE)
        finally:
            engine.dispose()
        for row in rows:
            per = row["cost_per_resolution_micros"]
            row["cost_usd"] = micros_to_usd(row["cost_micros"])
            row["cost_per_resolution_usd"] = None if per is None else micros_to_usd(per)
            if not as_json:
                row["resolved_by"] = " ".join(f"{k}:{v}" for k, v in row["resolved_by"].items())
        total = sum(r["cost_micros"] for r in rows)
        count = sum(r["resolutions"] for r in rows)
        doc = {
            "title": (
                f"resolutions, {period.first} to {period.last} (commercial agents: "
                f"${COMMERCIAL_USD_PER_RESOLUTION} each)"
            ),
            "text_columns": ["day", "tenant_id", "resolved_by"],
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "tenant": tenant,
            "rows": rows,
            "resolutions": count,
            "total_cost_micros": total,
            "cost_per_resolution_usd": micros_to_usd(total // count) if count else None,
            "commercial_usd_per_resolution": float(COMMERCIAL_USD_PER_RESOLUTION),
        }
        _emit(rows, doc, as_csv, as_json)
