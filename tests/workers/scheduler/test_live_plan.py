"""The live plan: what the scheduler decides for the live lane, and how admission follows it
(whole envelopes, the line, the reserve and the floor replay leaves, the decide-by sweep)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import redis

from shared.keys import Keys
from shared.ledger import Candidate
from shared.stores.demand import DemandStore
from shared.stores.live_plan import LivePlan, read_plan, write_plan
from shared.stores.parking import LINE_OFFSET_MS
from tests.conftest import make_settings
from tests.workers.scheduler.helpers import admit, clock_at, message, scheduler
from tests.workers.scheduler.test_forecast import seed_days

LADDER = [Candidate("gpt-4o-mini", 14_400, 1_000), Candidate("gpt-4.1-nano", 9_600, 700)]


def show(r: redis.Redis, keys: Keys, now_ms: int, **fields: Any) -> None:
    doc: dict[str, Any] = {
        "plan_ms": now_ms, "plan_day": "2025-11-24", "live_rung": 0, "live_model": "gpt-4o-mini",
        "reserve_rung": 0, "live_reserve": 0, "live_floor": 0, "live_wait_ms": 0,
        "forecast_tickets": 0, "forecast_basis": "history", "cost_micros": 0,
        "projected_micros": 0, "line": 0,
    }  # fmt: skip
    doc.update(fields)
    pipe = r.pipeline()
    write_plan(pipe, keys, LivePlan(**doc))
    pipe.execute()


def test_a_live_ticket_takes_a_whole_envelope_or_waits(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace)
    clock = clock_at(settings, 12)
    sched, _ = scheduler(settings, clock, r)
    now_ms = int(clock.now_s() * 1000)
    # Given a bucket holding half an envelope, refilling slowly
    r.hset(sched.keys.pace, mapping={"tokens": 5_000, "updated_ms": now_ms, "rate": 3_600_000,
                                     "rate_set_ms": now_ms})  # fmt: skip
    cand = [Candidate("m", 10_000, 1_000)]
    # When a live ticket asks
    live = admit(sched.ledger, "live-1", candidates=cand)
    # Then it waits for a whole envelope (5 s at 1 µ$/ms) instead of taking a sliver
    assert (live.kind, live.reason, live.until_ms) == ("defer", "pace", now_ms + 5_000)
    clock.advance(5)
    assert admit(sched.ledger, "live-1", candidates=cand).grant_micros == 10_000


def test_the_plan_sets_the_rung_the_line_and_what_replay_leaves(
    namespace: str, r: redis.Redis
) -> None:
    settings = make_settings(
        namespace, daily_ceiling_usd="1", tenant_daily_cap_usd="1", user_daily_cap_usd="1"
    )
    clock = clock_at(settings, 12)
    sched, _ = scheduler(settings, clock, r)
    keys, now_ms = sched.keys, int(clock.now_s() * 1000)
    # Given a plan: the cheaper rung, tickets in line, $0.99 kept for the rest of the day's
    # live tickets and $0.04 of the bucket for the next minutes'
    show(r, keys, now_ms, live_rung=1, line=2, live_wait_ms=90_000, live_reserve=990_000,
         live_floor=40_000)  # fmt: skip
    # Then a new live ticket joins the back of the line, without touching the bucket
    new = admit(sched.ledger, "new", candidates=LADDER)
    assert (new.kind, new.reason, new.until_ms) == ("defer", "pace", now_ms + 90_000)
    # And one released from the line runs on the planned rung
    queued = admit(sched.ledger, "queued", "line", candidates=LADDER)
    assert (queued.kind, queued.model) == ("admit", "gpt-4.1-nano")
    # And replay may not touch the reserve: it looks again in ten minutes, not tomorrow
    replay = admit(sched.ledger, "replay", "replay", candidates=[Candidate("m", 20_000, 20_000)])
    assert (replay.kind, replay.reason) == ("defer", "live_reserve_daily_cap")
    assert replay.until_ms == now_ms + 600_000
    # When the reserve is small, replay still leaves the plan's floor of the bucket ($0.02)
    show(r, keys, now_ms, live_floor=20_000)
    taken = 0
    while admit(sched.ledger, f"r{taken}", "replay", candidates=[Candidate("m", 1_000, 1_000)]
                ).kind == "admit":  # fmt: skip
        taken += 1
    assert 20_000 <= sched.ledger.pace_state()["tokens"] < 21_000 and taken == 20
    # And the live lane still has it
    assert admit(sched.ledger, "live-after", candidates=LADDER).kind == "admit"


def test_the_scheduler_plans_the_day_from_the_forecast(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace)  # $50 ceiling, the shipped ladder
    keys = Keys(namespace)
    demand = DemandStore(r, keys, settings.tz)
    clock = clock_at(settings, 9)
    # Given past days whose live tickets cost $0.02 each, 160 an hour: $76.80 a day
    seed_days(demand, settings, [[160] * 24] * 7)
    pipe = r.pipeline()
    demand.record_run(pipe, clock.now_s() - 86_400, settings.model, cost_micros=20_000 * 100,
                      tickets=100, prompt_tokens=600_000, cached_tokens=0,
                      completion_tokens=60_000)  # fmt: skip
    pipe.execute()
    demand.count_arrivals(clock.now_s() - 60, 160 * 9)
    sched, _ = scheduler(settings, clock, r)
    # When the scheduler ticks at 09:00 with nothing spent
    plan = sched.tick().plan
    # Then the rest of the day (15 h x 160 tickets x $0.02 = $48) fits the $50 left on the
    # default model, and replay must leave all of it (with a margin, at most the ceiling)
    assert plan is not None and plan.forecast_basis == "history"
    assert plan.forecast_tickets == 2_400 and plan.live_rung == 0
    assert plan.projected_micros == 48_000_000 and plan.live_reserve == 50_000_000
    # When $10 were already spent, the default would overspend ($48 > $40): the live lane
    # steps down one rung, to the next model (priced by the default's runs times the price
    # table's ratio on their token mix: $0.0075 a ticket, $18)
    r.hincrby(keys.books(sched.ledger.day()), "spent:global", 10_000_000)
    plan = sched.tick().plan
    assert plan is not None and plan.live_rung == 1 and plan.live_model == "gpt-4o-mini"
    assert plan.projected_micros == 28_000_000  # the end of the day: $10 spent + $18
    assert read_plan(r, keys) == plan


def test_at_its_decide_by_a_ticket_in_line_is_released_whatever_the_bucket(
    namespace: str, r: redis.Redis
) -> None:
    settings = make_settings(namespace, pace_burst_pct=1)
    clock = clock_at(settings, 12)
    sched, got = scheduler(settings, clock, r)
    now_ms = int(clock.now_s() * 1000)
    # Given an empty bucket and two tickets in line, accepted 14 and 2 minutes ago
    r.hset(sched.keys.pace, mapping={"tokens": 0, "updated_ms": now_ms})
    sched.lot.park_in_line(message("old"), now_ms - 840_000, "pace")
    sched.lot.park_in_line(message("new"), now_ms - 120_000, "pace")
    assert sched.lot.line_length() == 2
    # When the scheduler releases (the tick's bucket: a second's refill, no whole envelope)
    released = sched.release(replace(sched.pacer.update(), tokens_micros=0))
    # Then only the one at its decide-by (900 s - 60 s - 1 s after acceptance) comes out
    assert released == {"live": 1} and sched.lot.line_length() == 1
    assert len(got.ids) == 1
    # And the line's score band sits below every real release time
    (entry,) = sched.lot.entries()
    assert entry.release_ms == now_ms - 120_000
    assert r.zscore(sched.keys.parked, entry.member) == now_ms - 120_000 - LINE_OFFSET_MS
