"""The live plan: the scheduler's decision for the live lane and its inputs, in `<ns>:pace`.

The scheduler writes it with the pace's rate on every tick (workers/scheduler/live_plan.py);
the admission script reads the fields it needs in the HMGET it already makes of that hash, so
the plan reaches every admission without a round trip of its own. Like the rate, a plan older
than `FRESH_MS` is ignored by admission (the scheduler stopped): admission then behaves as it
does without a forecast (the fixed live reserve, the tight-bucket ladder step).

Fields (all integers but the model, the basis and the day):
`plan_ms` when written · `plan_day` the budget day it is for · `live_rung` the ladder index
the live lane runs on (0: the default model) · `live_model` its model · `reserve_rung` the
best rung it ran on today, which the reserve is counted on · `live_reserve` micros replay and
redrive must leave for the rest of the day's live tickets · `live_floor` micros of the pace
bucket they must leave for the live tickets of the next few minutes · `live_wait_ms` how long
a live ticket joining the line now is expected to wait · `forecast_tickets` live tickets
forecast for the rest of the day · `forecast_basis` `history`, `today` or `none` ·
`cost_micros` a ticket's expected cost on the rung · `projected_micros` the day's projected
spend on the rung · `line` live tickets waiting in line (while there are some, a new live
ticket joins them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import redis

from shared.keys import Keys

FRESH_MS = 120_000  # the same bound as the pace's rate (shared/ledger/admit.lua)
_TEXT = {"live_model", "forecast_basis", "plan_day"}


@dataclass(frozen=True)
class LivePlan:
    plan_ms: int
    plan_day: str
    live_rung: int
    live_model: str
    reserve_rung: int
    live_reserve: int
    live_floor: int
    live_wait_ms: int
    forecast_tickets: int
    forecast_basis: str
    cost_micros: int
    projected_micros: int
    line: int

    def fields(self) -> dict[str, Any]:
        return asdict(self)

    def fresh(self, now_ms: int) -> bool:
        return now_ms - self.plan_ms <= FRESH_MS


def write_plan(pipe: Any, keys: Keys, plan: LivePlan) -> None:
    pipe.hset(keys.pace, mapping=plan.fields())


def read_plan(client: redis.Redis, keys: Keys) -> LivePlan | None:
    """The last plan written, fresh or not (None before any scheduler wrote one)."""
    names = [f.name for f in fields(LivePlan)]
    values = cast(list[str | None], client.hmget(keys.pace, names))
    if values[0] is None:
        return None
    doc: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        doc[name] = (value or "") if name in _TEXT else int(float(value or 0))
    return LivePlan(**doc)
