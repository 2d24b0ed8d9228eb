"""Live demand as it happened: arrivals by hour, what tickets cost by model, first responses.

What the scheduler's forecast learns from (workers/scheduler/forecast.py), kept per budget day
for 8 days (`KEY_TABLE`):
- `demand:arrivals:<day>`: hour of the local day (0-23; 24 on a long DST day) -> live tickets
  accepted in it, counted at intake (the intake script's own round trip on the fast path);
- `demand:tickets:<day>`: per model, tickets the agent ran and their settled cost and usage
  (`n:`, `micros:`, `prompt:`, `cached:`, `completion:` + model), written once per ticket
  with its final outcome;
- `demand:slo:<day>`: live first responses within and past `PACELINE_LIVE_MAX_WAIT_S`, and the
  hand-offs among them (`within`, `past`, `handoff_within`, `handoff_past`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis

from shared.clock import budget_day, day_bounds_s
from shared.keys import Keys

DEMAND_TTL_S = 8 * 24 * 3600
USAGE_FIELDS = ("n", "micros", "prompt", "cached", "completion")
SLO_FIELDS = ("within", "past", "handoff_within", "handoff_past")


@dataclass(frozen=True)
class ModelTotals:
    """A model's tickets on one day: how many, what they cost, the tokens they used."""

    n: int = 0
    micros: int = 0
    prompt: int = 0
    cached: int = 0
    completion: int = 0


def hour_of_day(now_s: float, tz: ZoneInfo) -> int:
    """Whole hours since the local budget day began (0-23; 24 on a 25-hour DST day)."""
    start_s, _ = day_bounds_s(now_s, tz)
    return int((now_s - start_s) // 3600)


class DemandStore:
    def __init__(self, client: redis.Redis, keys: Keys, tz: ZoneInfo) -> None:
        self._r = client
        self._keys = keys
        self._tz = tz

    def arrival_field(self, now_s: float) -> tuple[str, str]:
        """(key, field) an arrival at `now_s` is counted under (for the intake script)."""
        day = budget_day(now_s, self._tz)
        return self._keys.demand_arrivals(day), str(hour_of_day(now_s, self._tz))

    def count_arrivals(self, now_s: float, n: int = 1, pipe: Any = None) -> None:
        key, field = self.arrival_field(now_s)
        p = pipe if pipe is not None else self._r.pipeline(transaction=False)
        p.hincrby(key, field, n)
        p.expire(key, DEMAND_TTL_S)
        if pipe is None:
            p.execute()

    def record_run(
        self,
        pipe: Any,
        now_s: float,
        model: str,
        *,
        cost_micros: int,
        prompt_tokens: int,
        cached_tokens: int,
        completion_tokens: int,
        tickets: int = 1,
    ) -> None:
        """Queue a ticket's settled run on `pipe` (the caller sends it with its own writes);
        `tickets` counts several at once, with their totals."""
        key = self._keys.demand_tickets(budget_day(now_s, self._tz))
        for name, value in zip(
            USAGE_FIELDS,
            (tickets, cost_micros, prompt_tokens, cached_tokens, completion_tokens),
            strict=True,
        ):
            if value:
                pipe.hincrby(key, f"{name}:{model}", int(value))
        pipe.expire(key, DEMAND_TTL_S)

    def record_first_response(
        self, pipe: Any, now_s: float, waited_ms: int, slo_s: int, *, handoff: bool
    ) -> None:
        key = self._keys.demand_slo(budget_day(now_s, self._tz))
        kind = "within" if waited_ms <= slo_s * 1000 else "past"
        pipe.hincrby(key, f"handoff_{kind}" if handoff else kind, 1)
        pipe.expire(key, DEMAND_TTL_S)

    # --- reading ------------------------------------------------------------------------
    def arrivals(self, day: str) -> dict[int, int]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.demand_arrivals(day)))
        return {int(h): int(v) for h, v in raw.items()}

    def arrivals_by_day(self, days: list[str]) -> dict[str, dict[int, int]]:
        """Each day's arrivals by hour; a day with none recorded is left out."""
        pipe = self._r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._keys.demand_arrivals(day))
        out: dict[str, dict[int, int]] = {}
        for day, raw in zip(days, pipe.execute(), strict=True):
            if raw:
                out[day] = {int(h): int(v) for h, v in raw.items()}
        return out

    def tickets_by_day(self, days: list[str]) -> dict[str, dict[str, ModelTotals]]:
        pipe = self._r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self._keys.demand_tickets(day))
        return {day: _totals(raw) for day, raw in zip(days, pipe.execute(), strict=True) if raw}

    def first_responses(self, day: str) -> dict[str, int]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.demand_slo(day)))
        return {f: int(raw.get(f, 0)) for f in SLO_FIELDS}


def _totals(raw: Mapping[str, str]) -> dict[str, ModelTotals]:
    by_model: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        name, _, model = field.partition(":")
        if name in USAGE_FIELDS and model:
            by_model.setdefault(model, {})[name] = int(value)
    return {m: ModelTotals(**v) for m, v in by_model.items()}


def compliance(counts: Mapping[str, int]) -> dict[str, Any]:
    """First responses within the SLO as shares, from `first_responses`."""
    total = sum(counts.get(f, 0) for f in SLO_FIELDS)
    within = counts.get("within", 0) + counts.get("handoff_within", 0)
    handoffs = counts.get("handoff_within", 0) + counts.get("handoff_past", 0)
    return {
        "first_responses": total,
        "within_slo": within,
        "past_slo": total - within,
        "handoffs": handoffs,
        "within_slo_pct": round(100 * within / total, 2) if total else None,
    }
