"""Degrade early, not late: the rung the live lane runs on for the rest of the day.

Each tick, with the forecast (forecast.py): what the rest of the day's live tickets would cost
on each rung of the ladder, against what is left of the ceiling. The live lane steps down when
the projection on its rung passes what is left, and back up only when the rung above fits with
`STEP_UP_HEADROOM` to spare (hysteresis: a day near the line does not flap between models).
A new budget day starts again from the default model. From the same figures: the reserve
replay and redrive must leave (`LIVE_RESERVE_MARGIN` over the projection on the best rung the
live lane has run on today, so that replay's spending can never be what steps it down, and
never counting on fewer tickets than the past days' profile; never below
`PACELINE_LIVE_RESERVE_PCT`, which admission applies), the floor of the pace bucket they must
leave (what the live tickets forecast until a new ticket's decide-by will draw, at most the
burst) and how long a ticket joining the line waits.
The result is the `LivePlan` (shared/stores/live_plan.py) admission reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.stores.live_plan import LivePlan
from workers.scheduler.forecast import Forecast

STEP_UP_HEADROOM = 0.10
LIVE_RESERVE_MARGIN = 0.25
# The bucket floor covers this many times the live demand forecast until a decide-by (bursts).
LIVE_FLOOR_X = 2
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class PlanInputs:
    now_ms: int
    day: str
    day_end_ms: int
    ceiling_micros: int
    committed_micros: int  # spent + reserved today
    rate_micros_per_h: int
    line: int  # live tickets waiting in line
    burst_micros: int
    decide_after_ms: int  # how long the SLO gives a live ticket before it must be decided
    ladder: list[str]
    previous: LivePlan | None


def choose_rung(
    need: list[int], remaining: int, previous: int, *, headroom: float = STEP_UP_HEADROOM
) -> int:
    """The ladder index to run on: down while the rung's need passes what is left, up while
    the rung above fits with `headroom` to spare."""
    rung = min(max(previous, 0), len(need) - 1)
    while rung < len(need) - 1 and need[rung] > remaining:
        rung += 1
    while rung > 0 and need[rung - 1] <= remaining * (1 - headroom):
        rung -= 1
    return rung


def plan_live(forecast: Forecast, x: PlanInputs) -> LivePlan:
    remaining = max(x.ceiling_micros - x.committed_micros, 0)
    costs = [forecast.cost_micros.get(m, 0) for m in x.ladder]
    need = [round(forecast.rest_tickets * c) for c in costs]
    today = x.previous if x.previous and x.previous.plan_day == x.day else None
    rung = choose_rung(need, remaining, today.live_rung if today else 0) if forecast.known else 0
    best = min(rung, today.reserve_rung) if today and today.plan_ms else rung
    cost = costs[rung]
    # Never fewer tickets than the profile says, and a margin for the forecast's error.
    reserve_tickets = forecast.rest_tickets * max(1.0, 1 / forecast.ratio)
    reserve_tickets *= 1 + LIVE_RESERVE_MARGIN
    wait_ms = x.day_end_ms - x.now_ms
    if x.rate_micros_per_h > 0:
        wait_ms = min(wait_ms, x.line * cost * HOUR_MS // x.rate_micros_per_h)
    return LivePlan(
        # Without a forecast the plan is shown but never fresh: admission ignores it.
        plan_ms=x.now_ms if forecast.known else 0,
        plan_day=x.day,
        live_rung=rung,
        live_model=x.ladder[rung],
        reserve_rung=best,
        live_reserve=min(round(reserve_tickets * costs[best]), x.ceiling_micros),
        live_floor=min(
            round(LIVE_FLOOR_X * forecast.tickets_per_h_now * x.decide_after_ms / HOUR_MS * cost),
            x.burst_micros,
        ),
        live_wait_ms=max(wait_ms, 0),
        forecast_tickets=round(forecast.rest_tickets),
        forecast_basis=forecast.basis,
        cost_micros=cost,
        projected_micros=x.committed_micros + need[rung],
        line=x.line,
    )


def shaped_rate(remaining_micros: int, span_ms: int, forecast: Forecast) -> int:
    """The pace's refill: what is left spread over the rest of the day in proportion to the
    forecast demand, never below the even pace (quiet hours keep the even rate, so replay can
    use them; what they do not spend stays in what is left)."""
    even = remaining_micros * HOUR_MS // max(span_ms, 60_000)
    if not forecast.known or forecast.rest_tickets <= 0:
        return even
    shaped = int(remaining_micros * forecast.tickets_per_h_now / forecast.rest_tickets)
    return max(even, shaped)
