"""`paceline budget status|set|unset|pause|resume|audit`: the day's spend, the caps changed at
runtime, and the kill switch. Every change is audited with who, when, the value it replaced
and why."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shared.cli.common import Exit, fail, print_json, settings_or_exit
from shared.cli.output import console, print_table, table
from shared.display import local_iso, safe_text, usd

if TYPE_CHECKING:
    from shared.budget_controls import BudgetControls
    from shared.ledger import Ledger

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
Who = Annotated[str | None, typer.Option(help="Who is changing it (default: $USER).")]
Scope = Annotated[
    str, typer.Argument(help="global | tenant:<id> | tenant:* | user:<tenant>:<id> | user:*")
]
PauseScope = Annotated[str, typer.Argument(help="global | tenant:<id>")]


def _ledger() -> Ledger:
    from shared.clock import SystemClock
    from shared.keys import Keys
    from shared.ledger import Ledger
    from shared.redis_client import make_redis

    settings = settings_or_exit()
    return Ledger(
        make_redis(settings, max_connections=4), Keys(settings.namespace), settings, SystemClock()
    )


def _controls() -> BudgetControls:
    from shared.budget_controls import BudgetControls
    from shared.clock import SystemClock
    from shared.errors import SettingsError
    from shared.tenants import load_tenants

    ledger = _ledger()
    settings = ledger._settings
    # The tenants' profiles set their own default caps (docs/tenants.md).
    try:
        tenants = load_tenants(settings)
    except SettingsError as exc:
        fail(str(exc), Exit.CONFIG)
    return BudgetControls(ledger, settings, SystemClock(), tenants.profile)


def _usage(exc: ValueError) -> None:
    fail(str(exc), Exit.USAGE)


def _amount(micros: int | None, default: bool = False) -> str:
    return usd(micros) + (" (default)" if default else "")


def register(app: typer.Typer) -> None:
    budget = typer.Typer(help="Today's spend, the caps, the kill switch.", no_args_is_help=True)
    app.add_typer(budget, name="budget")

    @budget.command()
    def status(as_json: JsonOpt = False) -> None:
        """Today's ceiling, spend, reservations and pace; caps, overrides and paused scopes;
        the live lane's model, forecast, projected end-of-day spend and first responses."""
        from shared.budget_status import budget_status
        from shared.clock import SystemClock

        settings = settings_or_exit()
        doc = budget_status(_ledger(), settings, SystemClock())
        if as_json:
            print_json(doc)
            return
        _print_status(doc)

    @budget.command("set")
    def set_(
        scope: Scope,
        usd_: Annotated[str, typer.Argument(metavar="USD", help="New daily cap in USD.")],
        who: Who = None,
        note: Annotated[str, typer.Option(help="Why.")] = "",
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Change a daily cap now; prints the value it replaced (the default if none was set).
        The global ceiling, and any change of more than 10x, must be confirmed."""
        controls = _controls()
        try:
            change = controls.plan_set(scope, usd_)
        except ValueError as exc:
            _usage(exc)
        what = (
            f"{scope}: {_amount(change.old_micros, change.old_is_default)} -> "
            f"{usd(change.new_micros)}"
        )
        if change.needs_confirmation and not yes:
            _confirm(f"change {what}?")
        entry = controls.apply_set(change, who=who, note=note)
        if as_json:
            print_json(entry)
        else:
            typer.echo(f"{safe_text(what)} ({safe_text(entry['who'])})")

    @budget.command()
    def unset(
        scope: Scope,
        who: Who = None,
        note: Annotated[str, typer.Option(help="Why.")] = "",
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Drop a cap override: the scope goes back to its default."""
        controls = _controls()
        if scope == "global" and not yes:
            _confirm("put the global ceiling back to PACELINE_DAILY_CEILING_USD?")
        try:
            entry = controls.unset(scope, who=who, note=note)
        except ValueError as exc:
            _usage(exc)
        if entry is None:
            _nothing(scope, as_json, "no override")
            return
        if as_json:
            print_json(entry)
            return
        typer.echo(
            f"{safe_text(scope)}: {usd(entry['old_micros'])} -> "
            f"{_amount(entry['new_micros'], True)} ({safe_text(entry['who'])})"
        )

    @budget.command()
    def pause(
        scope: PauseScope,
        reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit).")],
        who: Who = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Stop admitting tickets of a scope now (they park, reason budget_paused)."""
        try:
            entry = _controls().pause(scope, who=who, reason=reason)
        except ValueError as exc:
            _usage(exc)
        if as_json:
            print_json(entry)
        else:
            typer.echo(
                f"{safe_text(scope)}: paused ({safe_text(reason)}); new tickets park until "
                f"paceline budget resume {safe_text(scope)}"
            )

    @budget.command()
    def resume(
        scope: PauseScope,
        who: Who = None,
        note: Annotated[str, typer.Option(help="Why.")] = "",
        as_json: JsonOpt = False,
    ) -> None:
        """Admit a paused scope's tickets again; those parked by the pause come back now."""
        try:
            entry = _controls().resume(scope, who=who, note=note)
        except ValueError as exc:
            _usage(exc)
        if entry is None:
            _nothing(scope, as_json, "not paused")
            return
        if as_json:
            print_json(entry)
        else:
            typer.echo(
                f"{safe_text(scope)}: resumed; {entry['released']} parked tickets released now"
            )

    @budget.command()
    def audit(
        as_json: JsonOpt = False,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    ) -> None:
        """Who changed which cap or pause, and when (newest first)."""
        rows = _controls().audit(limit)
        if as_json:
            print_json(rows)
            return
        print_table(
            ("at", "who", "action", "scope", "from", "to", "note"),
            [
                (
                    local_iso(row.get("at_ms")),
                    row.get("who"),
                    row.get("action"),
                    row.get("scope"),
                    _amount(row.get("old_micros"), bool(row.get("old_default")))
                    if row.get("old_micros") is not None
                    else None,
                    usd(row.get("new_micros")) if row.get("new_micros") is not None else None,
                    row.get("note") or row.get("reason"),
                )
                for row in rows
            ],
        )


def _nothing(scope: str, as_json: bool, why: str) -> None:
    if as_json:
        print_json({"scope": scope, "changed": False})
    else:
        typer.echo(f"{safe_text(scope)}: {why}; nothing to do")


def _confirm(question: str) -> None:
    """Ask on a terminal; anywhere else the change needs --yes."""
    if not sys.stdin.isatty():
        fail(f"{question} This needs confirmation: add --yes", Exit.REFUSED)
    if not typer.confirm(question, err=True):
        fail("not changed", Exit.REFUSED)


def _print_status(doc: dict[str, Any]) -> None:
    out = console()
    day = table(
        ("", "amount"),
        [
            ("ceiling", usd(doc["ceiling_micros"])),
            ("spent", usd(doc["spent_micros"])),
            ("reserved", usd(doc["reserved_micros"])),
            ("remaining", usd(doc["remaining_micros"])),
            ("pace (per hour)", usd(doc["pace_micros_per_hour"])),
            ("pace line now", usd(doc["pace_line_micros"])),
            ("burst", usd(doc["burst_micros"])),
            ("tenant cap (default)", usd(doc["tenant_cap_micros"])),
            ("requester cap (default)", usd(doc["user_cap_micros"])),
            ("model calls", f"{doc['llm_calls']:,}"),
        ],
        title=f"budget day {doc['day']} ({doc['timezone']}, pacing {doc['pacing']})",
        right=("amount",),
    )
    out.print(day)
    tenants = [
        (t, usd(v["spent_micros"]), usd(v["reserved_micros"]),
         usd(v["cap_micros"]) + ("" if v["cap_overridden"] else " (default)"))
        for t, v in doc["tenants"].items()
    ]  # fmt: skip
    out.print(table(("tenant", "spent", "reserved", "daily cap"), tenants, title="tenants today"))
    overrides = [(scope, usd(v["cap_micros"])) for scope, v in doc["overrides"].items()]
    out.print(table(("scope", "cap"), overrides, title="cap overrides (budget set)"))
    paused = [
        (scope, p["by"], p.get("reason"), local_iso(p.get("at_ms") or p.get("until_ms")))
        for scope, p in doc["paused"].items()
    ]
    out.print(table(("scope", "by", "reason", "since / until"), paused, title="paused"))
    out.print(_live_table(doc))


def _live_table(doc: dict[str, Any]) -> Any:
    """The live lane as the scheduler planned it, and its first responses against the SLO."""
    forecast, slo = doc["forecast"], doc["slo"]
    tickets = forecast.get("live_tickets_rest_of_day")
    rows = [
        ("model (rung)", f"{doc['live_model']} ({doc['live_rung']})"),
        ("forecast", "none yet" if tickets is None else
         f"{tickets:,} live tickets for the rest of the day ({forecast['basis']})"),
        ("projected end of day", usd(doc["projected_end_of_day_micros"])),
        ("kept from replay and redrive", usd(doc["live_reserve_micros"])),
        ("first responses within the SLO",
         f"{slo['within_slo']:,} of {slo['first_responses']:,} within {slo['max_wait_s']} s"),
        ("handed off", f"{slo['handoffs']:,} (over the SLO: {slo['over_slo']})"),
    ]  # fmt: skip
    return table(("", "live lane"), rows, title="live lane")
