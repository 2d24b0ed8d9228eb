"""`paceline plan`: the cost and capacity calculator, as a table with its working or one JSON."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.conversation.report import (
    COMMERCIAL_MICROS_PER_RESOLUTION,
    COMMERCIAL_USD_PER_RESOLUTION,
)
from shared.display import PLAN_PLACES, usd
from shared.errors import SettingsError
from shared.money import MICROS_PER_USD
from shared.plan import Plan, PlanInput, compute
from shared.settings import Settings, price_table

# Model calls per ticket when no outcome says otherwise (the agent here takes about three).
DEFAULT_STEPS = 3
MAX_STEPS = 50
OBSERVED_TICKETS = 1000  # the newest outcomes the mean is taken over


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
        "cost_per_day_micros": plan.cost_per_day_micros,
        "cost_per_month_micros": plan.cost_per_month_micros,
        "tokens_per_day": plan.tokens_per_day,
        "input_tokens_per_day": plan.input_tokens_per_day,
        "cached_tokens_per_day": plan.cached_tokens_per_day,
        "output_tokens_per_day": plan.output_tokens_per_day,
        "requests_per_day": plan.requests_per_day,
        "steps_per_ticket": _f(Fraction(inputs.steps)),
        "ceiling_micros": inputs.ceiling_micros,
        "tpm_needed": plan.tpm_needed,
        "rpm_needed": _f(plan.rpm_needed),
        "concurrency_needed": _f(plan.concurrency_needed),
        # Named only when a limit is broken at this load; the tightest one is always given.
        "first_to_break": plan.first_to_break if plan.breaks else None,
        "tightest_limit": plan.first_to_break,
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


def resolution_plan(doc: dict[str, Any], inputs: PlanInput, rate: Decimal) -> dict[str, Any]:
    """A month (30 days) of resolutions at `rate`: every ticket's spend, resolved or not,
    divided by the resolved ones, beside what the commercial per-resolution price would bill."""
    tickets_per_day = Fraction(inputs.rph) * Fraction(inputs.hours_per_day)
    per_day = tickets_per_day * Fraction(rate)
    per_month = per_day * 30
    month_micros = doc["cost_per_month_micros"]
    commercial = per_month * COMMERCIAL_MICROS_PER_RESOLUTION
    return {
        "resolution_rate": float(rate),
        "tickets_per_day": _f(tickets_per_day),
        "resolutions_per_day": _f(per_day),
        "resolutions_per_month": _f(per_month),
        "cost_per_resolution_micros": int(Fraction(month_micros) / per_month),
        "cost_per_month_micros": month_micros,
        "commercial_cost_per_month_micros": int(commercial),
        "commercial_usd_per_resolution": float(COMMERCIAL_USD_PER_RESOLUTION),
    }


def _render(doc: dict[str, Any], notes: list[str]) -> None:
    from shared.cli.output import console, table

    out = console()
    for note in notes:
        out.print(note, style="dim")
    out.print(
        table(
            ("what", "value"),
            [
                ("requests/day", f"{doc['requests_per_day']:,}"),
                ("model calls/ticket", f"{doc['steps_per_ticket']:g}"),
                ("tokens/day", f"{doc['tokens_per_day']:,}"),
                ("cost/day", usd(doc["cost_per_day_micros"], PLAN_PLACES)),
                ("cost/30 days", usd(doc["cost_per_month_micros"], PLAN_PLACES)),
                ("daily ceiling", usd(doc["ceiling_micros"], PLAN_PLACES)),
            ],
            title=f"paceline plan: {doc['model']}",
            right=("value",),
        )
    )
    rows = []
    for c in doc["constraints"]:
        needed, limit = c["needed"], c["limit"]
        if c["unit"] == "micros/day":
            needed = usd(int(needed), PLAN_PLACES) + "/day"
            limit = usd(int(limit), PLAN_PLACES) + "/day"
        mark = " <- first to break" if c["name"] == doc["first_to_break"] else ""
        state = "BROKEN" if c["broken"] else "ok"
        rows.append((c["name"] + mark, needed, limit, f"{c['breaks_at_rph']:,}", state))
    out.print(table(("limit", "needed", "limit value", "reached at req/h", "state"), rows))
    if doc["first_to_break"] is None:
        out.print(
            f"nothing breaks at this load; the tightest limit is {doc['tightest_limit']}, "
            f"reached at {doc['first_breaks_at_rph']:,} req/h"
        )
    out.print("working")
    for line in doc["working"]:
        out.print("  " + line)
    res = doc.get("resolutions")
    if res:
        out.print(
            f"resolutions at {res['resolution_rate']:.0%}: {res['resolutions_per_month']:,g} a "
            f"month cost {usd(res['cost_per_month_micros'], PLAN_PLACES)}, "
            f"{usd(res['cost_per_resolution_micros'], 4)} each (all tickets' spend over the "
            f"resolved ones); at the commercial "
            f"{usd(COMMERCIAL_MICROS_PER_RESOLUTION, 2)}/resolution: "
            f"{usd(res['commercial_cost_per_month_micros'], PLAN_PLACES)}"
        )


def _live(settings: Settings) -> tuple[int | None, Decimal | None, str | None]:
    """(the live ceiling override, the observed mean of model calls per ticket, a problem):
    what `budget set` and the outcomes say, when Redis answers."""
    import redis

    from shared.keys import Keys
    from shared.redis_client import make_redis
    from shared.stores.outcomes import OutcomeStore

    client = make_redis(settings, max_connections=2)
    try:
        raw = client.hget(Keys(settings.namespace).caps, "global")
        calls = []
        for outcome in OutcomeStore(client, Keys(settings.namespace)).iter_outcomes(
            newest_first=True
        ):
            if outcome.llm_calls > 0:
                calls.append(outcome.llm_calls)
            if len(calls) >= OBSERVED_TICKETS:
                break
    except redis.RedisError as exc:
        return None, None, f"Redis unreachable ({type(exc).__name__})"
    finally:
        client.close()
    mean = (Decimal(sum(calls)) / len(calls)).quantize(Decimal("0.01")) if calls else None
    return (int(str(raw)) if raw else None), mean, None


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
        threads: int = typer.Option(
            8, "--threads", min=1, max=100_000, help="Worker threads in total."
        ),
        latency_ms: int = typer.Option(
            5000, "--latency-ms", min=1, max=600_000, help="Milliseconds per model call."
        ),
        steps: str | None = typer.Option(
            None,
            "--steps",
            help="Model calls per ticket (default: the mean of recent outcomes, else 3).",
        ),
        hours_per_day: str = typer.Option("24", "--hours-per-day", help="Hours of traffic a day."),
        ceiling_usd: str | None = typer.Option(
            None, "--ceiling-usd", help="Default: the live ceiling (budget set), else settings."
        ),
        resolution_rate: str | None = typer.Option(
            None,
            "--resolution-rate",
            help="Share of tickets resolved, 0-1: what a month of resolutions costs.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """What a load costs per day and month, and which limit breaks first."""
        settings = settings_or_exit()
        notes: list[str] = []
        live_ceiling, observed, problem = (None, None, None)
        if ceiling_usd is None or steps is None:
            live_ceiling, observed, problem = _live(settings)
            if problem:
                notes.append(f"{problem}: using the settings' ceiling and {DEFAULT_STEPS} calls")
        if ceiling_usd is not None:
            ceiling_micros = int(
                _decimal("ceiling-usd", ceiling_usd, low=Decimal("0.000001")) * MICROS_PER_USD
            )
        elif live_ceiling is not None:
            ceiling_micros = live_ceiling
            notes.append(
                f"ceiling {usd(live_ceiling, PLAN_PLACES)}: the live override (budget set)"
            )
        else:
            ceiling_micros = settings.ceiling_micros
        if steps is not None:
            per_ticket = _decimal("steps", steps, low=Decimal(1), high=Decimal(MAX_STEPS))
        elif observed is not None:
            per_ticket = max(observed, Decimal(1))
            notes.append(f"{per_ticket} model calls per ticket: the mean of recent outcomes")
        else:
            per_ticket = Decimal(DEFAULT_STEPS)
            if not problem:
                notes.append(f"{DEFAULT_STEPS} model calls per ticket (no outcomes yet; --steps)")
        if tokens_in > settings.context_window_tokens:
            fail(
                f"--tokens-in: {tokens_in:,} is more than the model's context window "
                f"({settings.context_window_tokens:,}, PACELINE_CONTEXT_WINDOW_TOKENS)",
                Exit.USAGE,
            )
        inputs = PlanInput(
            rph=_decimal("rph", rph, low=Decimal("0.001"), high=Decimal(10**7)),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            model=model,
            ceiling_micros=ceiling_micros,
            retry_rate=_decimal("retry-rate", retry_rate, low=Decimal(0), high=Decimal(1)),
            cache_hit_rate=_decimal(
                "cache-hit-rate", cache_hit_rate, low=Decimal(0), high=Decimal(1)
            ),
            batch=batch,
            tpm=tpm,
            rpm=rpm,
            threads=threads,
            latency_ms=latency_ms,
            steps=per_ticket,
            hours_per_day=_decimal(
                "hours-per-day", hours_per_day, low=Decimal("0.1"), high=Decimal(24)
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
        doc = plan_document(compute(inputs, prices), inputs)
        if resolution_rate is not None:
            rate = _decimal("resolution-rate", resolution_rate, low=Decimal("0.0001"),
                            high=Decimal(1))  # fmt: skip
            doc["resolutions"] = resolution_plan(doc, inputs, rate)
        doc["notes"] = notes
        if as_json:
            print_json(doc)
        else:
            _render(doc, notes)
