"""The ops page's live lane: the scheduler's plan and today's first responses against the SLO."""

from __future__ import annotations

from html import escape
from typing import Any

from shared.display import PLAN_PLACES, safe_text, usd


def live_cards(books: dict[str, Any]) -> dict[str, str]:
    """The live lane's plan and its SLO compliance, from `budget_status`."""
    forecast, slo = books["forecast"], books["slo"]
    projected = books["projected_end_of_day_micros"]
    tickets = forecast.get("live_tickets_rest_of_day")
    pct = slo["within_slo_pct"]
    return {
        "slo_s": str(slo["max_wait_s"]),
        "over_slo": escape(slo["over_slo"]),
        "live_model": escape(safe_text(books["live_model"])),
        "live_rung": str(books["live_rung"]),
        "forecast": escape(
            f"{tickets:,} tickets ({forecast['basis']})" if tickets is not None else "none yet"
        ),
        "projected_usd": usd(projected, PLAN_PLACES),
        "live_reserve_usd": usd(books["live_reserve_micros"], PLAN_PLACES),
        "slo_compliance": "—" if pct is None else f"{pct}% of {slo['first_responses']:,}",
        "handoffs": f"{slo['handoffs']:,}",
    }
