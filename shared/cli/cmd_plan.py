"""`paceline plan`: the cost and capacity calculator, as a table with its working or one JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.errors import SettingsError
from shared.money import micros_to_usd
from shared.plan import Plan, PlanInput, compute
from shared.settings import price_table


def _decimal(name: str, raw: str, *, low: Decimal, high: Decimal | None = None) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        fail(f"--{name}: not a number: {raw!r}", Exit.USAGE)
    if not value.is_finite() or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        fail(f"--{name}: must be {bound}", Exit.USAGE)
    return value


def _f(value: Fraction) -> float:
    return round(float(value), 4)


def plan_document(plan: Plan, inputs: PlanInput) -> dict[str, Any]:
    return {
        "model": inputs.model,
        "cost_per_day_usd": micros_to_usd(plan.cost_per_day_micros),
        "cost_per_month_usd": micros_to_usd(plan.cost_per_month_micros),
        "cost_per_day_micros": plan.cost_per_day_micros,
        "tokens_per_day": plan.tokens_per_day,
        "input_tokens_per_day": plan.input_tokens_per_day,
        "cached_tokens_per_day": plan.cached_tokens_per_day,
        "output_tokens_per_day": plan.output_tokens_per_day,
        "requests_per_day": plan.requests_per_day,
        "tpm_needed": plan.tpm_needed,
        "rpm_needed": _f(plan.rpm_needed),
        "concurrency_needed": _f(plan.concurrency_needed),
        "first_to_break": plan.first_to_break,
        "first_breaks_at_rph": plan.first_breaks_at_rph,
        "constraints": [
            {
                "name": c.name,
                "needed": _f(c.needed),
                "limit": _f(c.limit),
                "unit": c.unit,
                "broken": c.broken,
                "breaks_at_rph": int(c.breaks_at_rph * Fraction(inputs.rph)),
            }
            for c in plan.constraints
        ],
        "working": plan.working,
    }


def _render(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"paceline plan: {doc['model']}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("requests/day", f"{doc['requests_per_day']:,}")
    table.add_row("tokens/day", f"{doc['tokens_per_day']:,}")
    table.add_row("cost/day", f"${doc['cost_per_day_usd']:,.2f}")
    table.add_row("cost/30 days", f"${doc['cost_per_month_usd']:,.2f}")
    console.print(table)
    limits = Table(title="constraints (first to break is marked)")
    for col in ("constraint", "needed", "limit", "breaks at req/h", "state"):
        limits.add_column(col)
    for c in doc["constraints"]:
        mark = " <- first" if c["name"] == doc["first_to_break"] else ""
        needed, limit = c["needed"], c["limit"]
        if c["unit"] == "micros/day":
            needed, limit = f"${needed / 1e6:,.2f}/day", f"${limit / 1e6:,.2f}/day"
        state = "BROKEN" if c["broken"] else "ok"
        limits.add_row(c["name"] + mark, str(needed), str(limit), f"{c['breaks_at_rph']:,}", state)
    console.print(limits)
    console.print("[bold]working[/bold]")
    for line in doc["working"]:
        console.print("  " + line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(
        rph: str = typer.Option(..., "--rph", help="Tickets per hour."),
        tokens_in: int = typer.Option(..., "--tokens-in", min=0, help="Input tokens per call."),
        tokens_out: int = typer.Option(..., "--tokens-out", min=0, help="Output tokens per call."),
        model: str = typer.Option(..., "--model", help="Model name in the price table."),
        retry_rate: str = typer.Option("0", "--retry-rate", help="Extra calls from retries, 0-1."),
        cache_hit_rate: str = typer.Option("0", "--cache-hit-rate", help="Cached input share."),
        batch: bool = typer.Option(False, "--batch", help="Price at the Batch API's half price."),
        tpm: int | None = typer.Option(None, "--tpm", min=1, help="Provider tokens/minute."),
        rpm: int | None = typer.Option(None, "--rpm", min=1, help="Provider requests/minute."),
        threads: int = typer.Option(8, "--threads", min=1, help="Worker threads in total."),
        latency_ms: int = typer.Option(5000, "--latency-ms", min=1, help="Seconds per call x1000."),
        steps: int = typer.Option(1, "--steps", min=1, help="LLM calls per ticket."),
        hours_per_day: str = typer.Option("24", "--hours-per-day", help="Hours of traffic a day."),
        ceiling_usd: str | None = typer.Option(None, "--ceiling-usd", help="Default: settings."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """What a load costs per day and month, and which limit breaks first."""
        settings = settings_or_exit()
        ceiling = (
            _decimal("ceiling-usd", ceiling_usd, low=Decimal("0.000001"))
            if ceiling_usd is not None
            else settings.daily_ceiling_usd
        )
        inputs = PlanInput(
            rph=_decimal("rph", rph, low=Decimal(0)),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            model=model,
            ceiling_micros=int(ceiling * 1_000_000),
            retry_rate=_decimal("retry-rate", retry_rate, low=Decimal(0), high=Decimal(10)),
            cache_hit_rate=_decimal(
                "cache-hit-rate", cache_hit_rate, low=Decimal(0), high=Decimal(1)
            ),
            batch=batch,
            tpm=tpm,
            rpm=rpm,
            threads=threads,
            latency_ms=latency_ms,
            steps=steps,
            hours_per_day=_decimal(
                "hours-per-day", hours_per_day, low=Decimal(0), high=Decimal(24)
            ),
        )
        try:
            prices = price_table(settings)
        except SettingsError as exc:
            fail(str(exc), Exit.CONFIG)
        try:
            prices.price(model)  # dated snapshots resolve to their family; anything else raises
        except SettingsError:
            fail(f"unknown model {model!r} (known: {', '.join(prices.models())})", Exit.USAGE)
        plan = compute(inputs, prices)
        doc = plan_document(plan, inputs)
        if as_json:
            print_json(doc)
        else:
            _render(doc)
