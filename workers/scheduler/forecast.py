"""The forecast of the rest of today's live demand: how many tickets, and what each costs.

Arrivals: an EWMA by hour of the day over the recent days (`DemandStore`, up to
`HISTORY_DAYS`), scaled by how today compares so far (today's arrivals against the profile
up to now, shrunk towards 1 while there are few, so one early burst does not swing the day).
With no past day recorded (the first day) the forecast is today's own rate so far, carried
flat over the rest of the day (`basis="today"`), once `FIRST_DAY_MIN_H` of it has passed;
before that there is none (`basis="none"`): the scheduler plans nothing and admission behaves
as it does without a plan (docs/slo.md).

Cost per ticket by model: settled tickets of the same days, each day weighted by
`COST_DECAY ** age`. A model with too few tickets (one the live lane has not stepped down to
yet) is priced from the best-known model's cost times the price table's ratio on that
model's token mix; with no settled ticket at all, from the price table's typical ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.clock import Clock, budget_day, day_bounds_s
from shared.pricing import PriceTable, Usage
from shared.settings import Settings
from shared.stores.demand import DemandStore, ModelTotals, hour_of_day

HISTORY_DAYS = 7
HOURS = 24
ARRIVAL_ALPHA = 0.5  # weight of the newer day in the EWMA over days
COST_DECAY = 0.5
MIN_COST_TICKETS = 20
# Today's ratio counts as this share of the day's profile more tickets on both sides.
SHRINK_SHARE = 0.05
MIN_SHRINK = 10.0
RATIO_BOUNDS = (0.2, 10.0)
FIRST_DAY_MIN_H = 1.0


@dataclass(frozen=True)
class Forecast:
    basis: str  # "history", "today" (a first day) or "none"
    days: int  # past days the profile was learnt from
    rest_tickets: float  # live tickets from now to the end of the day
    tickets_per_h_now: float  # the expected arrival rate this hour
    ratio: float  # today against the profile so far
    cost_micros: dict[str, int] = field(default_factory=dict)  # per ticket, by model

    @property
    def known(self) -> bool:
        return self.basis != "none"


class Forecaster:
    def __init__(
        self, demand: DemandStore, settings: Settings, clock: Clock, prices: PriceTable
    ) -> None:
        self._demand = demand
        self._settings = settings
        self._clock = clock
        self._prices = prices

    def forecast(self, models: list[str]) -> Forecast:
        now_s = self._clock.now_s()
        tz = self._settings.tz
        today = budget_day(now_s, tz)
        past = _past_days(now_s, self._settings, HISTORY_DAYS)
        arrivals = self._demand.arrivals_by_day([*reversed(past), today])
        tickets = self._demand.tickets_by_day([today, *past])
        costs = model_costs(tickets, [today, *past], models, self._prices)
        history = [arrivals[d] for d in reversed(past) if d in arrivals]
        start_s, end_s = day_bounds_s(now_s, tz)
        if not history:
            elapsed_h = (now_s - start_s) / 3600
            seen_today = sum(arrivals.get(today, {}).values())
            if elapsed_h < FIRST_DAY_MIN_H or not seen_today:
                return Forecast("none", 0, 0.0, 0.0, 1.0, costs)
            rate = seen_today / elapsed_h
            return Forecast("today", 0, rate * (end_s - now_s) / 3600, rate, 1.0, costs)
        profile = ewma_profile(history)
        hour = min(hour_of_day(now_s, tz), HOURS - 1)
        into = min(max((now_s - start_s) / 3600 - hour, 0.0), 1.0)
        seen = arrivals.get(today, {})
        observed = sum(n for h, n in seen.items() if h <= hour)
        expected = sum(profile[:hour]) + profile[hour] * into
        k = max(MIN_SHRINK, SHRINK_SHARE * sum(profile))
        ratio = min(max((observed + k) / (expected + k), RATIO_BOUNDS[0]), RATIO_BOUNDS[1])
        rest = profile[hour] * (1 - into) + sum(profile[hour + 1 :])
        return Forecast("history", len(history), rest * ratio, profile[hour] * ratio, ratio, costs)


def ewma_profile(days: list[dict[int, int]]) -> list[float]:
    """Arrivals per hour of the day, an EWMA over `days` (oldest first). A 25-hour DST day's
    last hour counts with the hour before it."""
    folded = [[day.get(h, 0) + (day.get(HOURS, 0) if h == HOURS - 1 else 0) for h in range(HOURS)]
              for day in days]  # fmt: skip
    profile = [float(v) for v in folded[0]]
    for day in folded[1:]:
        profile = [
            ARRIVAL_ALPHA * v + (1 - ARRIVAL_ALPHA) * p for v, p in zip(day, profile, strict=True)
        ]
    return profile


def model_costs(
    tickets: dict[str, dict[str, ModelTotals]],
    days: list[str],
    models: list[str],
    prices: PriceTable,
) -> dict[str, int]:
    """Expected cost per ticket of each model, from settled tickets (newest day first)."""
    weighted: dict[str, list[float]] = {}  # model -> [n, micros, prompt, cached, completion]
    for age, day in enumerate(days):
        w = COST_DECAY**age
        for model, t in tickets.get(day, {}).items():
            acc = weighted.setdefault(model, [0.0] * 5)
            for i, v in enumerate((t.n, t.micros, t.prompt, t.cached, t.completion)):
                acc[i] += w * v
    known = {m: a for m, a in weighted.items() if a[0] >= MIN_COST_TICKETS}
    out: dict[str, int] = {}
    ref = max(known, key=lambda m: known[m][0]) if known else None
    for model in models:
        if model in known:
            out[model] = round(known[model][1] / known[model][0])
        elif ref is not None:
            n, micros, prompt, cached, completion = known[ref]
            mix = Usage(round(prompt / n), round(cached / n), round(completion / n))
            base = max(prices.cost_micros(ref, mix), 1)
            out[model] = round(micros / n * prices.cost_micros(model, mix) / base)
        else:
            out[model] = prices.typical_ticket_micros(model)
    return out


def _past_days(now_s: float, settings: Settings, n: int) -> list[str]:
    """The `n` budget days before today, newest first."""
    local = datetime.fromtimestamp(now_s, settings.tz).date()
    return [(local - timedelta(days=i)).isoformat() for i in range(1, n + 1)]
