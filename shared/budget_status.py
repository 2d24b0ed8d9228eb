"""The day's books as people read them: `paceline budget status` and the ops page.

Amounts are micro-dollars here (`*_micros`); JSON output adds each one's `*_usd` twin
(shared/display.py `both_units`).
"""

from __future__ import annotations

from typing import Any

from shared.clock import Clock, day_bounds_s
from shared.ledger import Ledger
from shared.settings import Settings
from shared.stores.budget_pause import BudgetPause
from shared.stores.demand import DemandStore, compliance
from shared.stores.live_plan import read_plan

PAUSED_PREFIX = "paused:"  # a spend-velocity pause: `paused:tenant:<id>` = until ms


def budget_status(ledger: Ledger, settings: Settings, clock: Clock) -> dict[str, Any]:
    now_s = clock.now_s()
    start_s, end_s = day_bounds_s(now_s, settings.tz)
    books = ledger.day_books()
    caps = ledger.caps()
    ceiling = caps.get("global", settings.ceiling_micros)
    spent = books["spent"].get("global", 0)
    reserved = books["reserved"].get("global", 0)
    remaining_h = max((end_s - now_s) / 3600, 1 / 60)
    pace_line = ceiling * (now_s - start_s) / (end_s - start_s)
    tenant_default = caps.get("tenant:*", settings.tenant_cap_micros)
    tenants = sorted(
        {s.split(":", 1)[1] for s in books["spent"] if s.startswith("tenant:")}
        | {s.split(":", 1)[1] for s in caps if s.startswith("tenant:") and s != "tenant:*"}
    )
    return {
        "day": ledger.day(),
        "timezone": settings.timezone,
        "pacing": settings.pacing,
        "ceiling_micros": ceiling,
        "spent_micros": spent,
        "reserved_micros": reserved,
        "remaining_micros": max(ceiling - spent - reserved, 0),
        "pace_micros_per_hour": int(max(ceiling - spent - reserved, 0) / remaining_h),
        "pace_line_micros": int(pace_line),
        "burst_micros": ledger.burst_micros(),
        "llm_calls": books["calls"].get("global", 0),
        "tenant_cap_micros": tenant_default,
        "user_cap_micros": caps.get("user:*", settings.user_cap_micros),
        "tenants": {
            t: {
                "spent_micros": books["spent"].get(f"tenant:{t}", 0),
                "reserved_micros": books["reserved"].get(f"tenant:{t}", 0),
                "cap_micros": caps.get(f"tenant:{t}", tenant_default),
                "cap_overridden": f"tenant:{t}" in caps,
            }
            for t in tenants
        },
        "overrides": {
            scope: {"cap_micros": v}
            for scope, v in sorted(caps.items())
            if not scope.startswith(PAUSED_PREFIX)
        },
        "paused": paused_scopes(ledger, clock, caps),
        **live_lane(ledger, settings, clock, ceiling),
    }


def paused_scopes(ledger: Ledger, clock: Clock, caps: dict[str, int]) -> dict[str, Any]:
    """Every scope admission is holding back: the operator's kill switch (until resumed) and
    the scheduler's spend-velocity pauses (until a time)."""
    now_ms = int(clock.now_s() * 1000)
    out: dict[str, Any] = {
        scope: {"by": "operator", **entry}
        for scope, entry in BudgetPause(ledger._r, ledger._keys, clock).paused().items()
    }
    for field, until_ms in caps.items():
        scope = field.removeprefix(PAUSED_PREFIX)
        if field.startswith(PAUSED_PREFIX) and until_ms > now_ms and scope not in out:
            out[scope] = {"by": "spend velocity", "until_ms": until_ms}
    return out


def live_lane(ledger: Ledger, settings: Settings, clock: Clock, ceiling: int) -> dict[str, Any]:
    """The scheduler's plan for the live lane (its rung, the forecast, the projected end of
    day, the reserve replay leaves it) and today's first responses against the SLO."""
    now_ms = int(clock.now_s() * 1000)
    plan = read_plan(ledger._r, ledger._keys)
    counts = DemandStore(ledger._r, ledger._keys, settings.tz).first_responses(ledger.day())
    fixed_reserve = ceiling * settings.live_reserve_pct // 100
    fresh = plan is not None and plan.fresh(now_ms)
    doc: dict[str, Any] = {
        "live_model": settings.model,
        "live_rung": 0,
        "plan_fresh": fresh,
        "forecast": {"basis": "none"},
        "projected_end_of_day_micros": None,
        "live_reserve_micros": fixed_reserve,
        "slo": {
            "max_wait_s": settings.live_max_wait_s,
            "over_slo": settings.over_slo,
            **compliance(counts),
        },
    }
    if plan is None or plan.plan_day != ledger.day():
        return doc
    doc["forecast"] = {
        "basis": plan.forecast_basis,
        "live_tickets_rest_of_day": plan.forecast_tickets,
        "cost_per_ticket_micros": plan.cost_micros,
    }
    if fresh:
        doc["live_model"], doc["live_rung"] = plan.live_model, plan.live_rung
        doc["projected_end_of_day_micros"] = plan.projected_micros
        doc["live_reserve_micros"] = max(fixed_reserve, plan.live_reserve)
        doc["line"] = {"tickets": plan.line, "expected_wait_s": plan.live_wait_ms // 1000}
    return doc


def set_cap(
    ledger: Ledger, scope: str, usd: str, *, who: str | None = None, note: str = ""
) -> dict[str, Any]:
    """Change a cap at runtime, audited (no confirmation: for callers that already decided)."""
    from shared.budget_controls import BudgetControls

    controls = BudgetControls(ledger, ledger._settings, ledger._clock)
    return controls.apply_set(controls.plan_set(scope, usd), who=who, note=note)
