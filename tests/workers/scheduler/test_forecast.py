"""The forecast of the rest of the day's live demand, learnt from the demand store in Redis."""

from __future__ import annotations

import pytest
import redis

from shared.clock import ManualClock, day_bounds_s
from shared.keys import Keys
from shared.settings import Settings, price_table
from shared.stores.demand import DemandStore
from tests.conftest import make_settings
from tests.workers.scheduler.helpers import DAY_S, clock_at
from workers.scheduler.forecast import Forecaster, ewma_profile, model_costs
from workers.scheduler.live_plan import choose_rung

MODELS = ["gpt-4o-mini", "gpt-4.1-nano"]


def seed_days(demand: DemandStore, settings: Settings, per_hour: list[list[int]]) -> None:
    """Arrivals of past days (the last list is yesterday), by hour."""
    start_s, _ = day_bounds_s(DAY_S, settings.tz)
    pipe = demand._r.pipeline()
    for back, hours in enumerate(reversed(per_hour), start=1):
        for hour, n in enumerate(hours):
            if n:
                demand.count_arrivals(start_s - back * 86_400 + hour * 3600 + 60, n, pipe)
    pipe.execute()


def forecaster(settings: Settings, clock: ManualClock, r: redis.Redis) -> Forecaster:
    demand = DemandStore(r, Keys(settings.namespace), settings.tz)
    return Forecaster(demand, settings, clock, price_table(settings))


def test_the_profile_learns_each_hour_from_recent_days() -> None:
    # An EWMA over days: the newer day weighs half
    days = [{9: 100}, {9: 200}, {9: 200, 24: 7}]
    profile = ewma_profile(days)
    assert profile[9] == 0.5 * 200 + 0.5 * (0.5 * 200 + 0.5 * 100)
    assert profile[23] == 0.5 * 7  # a long DST day's extra hour counts with the last one


def test_the_rest_of_the_day_follows_the_profile_scaled_by_today(
    namespace: str, r: redis.Redis
) -> None:
    settings = make_settings(namespace)
    demand = DemandStore(r, Keys(settings.namespace), settings.tz)
    # Given seven past days of 10 tickets an hour
    seed_days(demand, settings, [[10] * 24] * 7)
    clock = clock_at(settings, 6)
    # When today has seen as many tickets as usual by 06:00
    demand.count_arrivals(clock.now_s() - 1800, 60)
    f = forecaster(settings, clock, r).forecast(MODELS)
    # Then the rest of the day is forecast at the usual rate
    assert f.basis == "history" and f.days == 7
    assert f.rest_tickets == pytest.approx(180, rel=0.01)
    assert f.tickets_per_h_now == pytest.approx(10, rel=0.01)
    # When today runs at three times the usual, the forecast follows, shrunk towards usual
    demand.count_arrivals(clock.now_s() - 1800, 120)
    busier = forecaster(settings, clock, r).forecast(MODELS)
    assert 2.0 < busier.ratio < 3.0
    assert busier.rest_tickets == pytest.approx(180 * busier.ratio, rel=0.01)


def test_a_first_day_has_no_forecast_then_its_own_rate(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace)
    demand = DemandStore(r, Keys(settings.namespace), settings.tz)
    # Given no past day, 30 minutes into the first one
    clock = clock_at(settings, 0.5)
    demand.count_arrivals(clock.now_s() - 60, 20)
    # Then there is no forecast yet (admission runs without a plan)
    assert forecaster(settings, clock, r).forecast(MODELS).basis == "none"
    # And after two hours, today's own rate is carried over the rest of the day
    clock.set(clock.now_s() + 1.5 * 3600)
    f = forecaster(settings, clock, r).forecast(MODELS)
    assert f.basis == "today" and f.tickets_per_h_now == pytest.approx(10)
    assert f.rest_tickets == pytest.approx(220)


def test_cost_per_ticket_comes_from_settled_runs_by_model(namespace: str, r: redis.Redis) -> None:
    settings = make_settings(namespace)
    prices = price_table(settings)
    demand = DemandStore(r, Keys(settings.namespace), settings.tz)
    clock = clock_at(settings, 12)
    # Before any settled run: the price table's typical ticket
    none_yet = forecaster(settings, clock, r).forecast(MODELS).cost_micros
    assert none_yet == {m: prices.typical_ticket_micros(m) for m in MODELS}
    # Given 50 settled tickets today on the default model, 1,000 µ$ each
    pipe = r.pipeline()
    demand.record_run(pipe, clock.now_s(), MODELS[0], cost_micros=50_000, tickets=50,
                      prompt_tokens=250_000, cached_tokens=0, completion_tokens=25_000)  # fmt: skip
    pipe.execute()
    costs = model_costs(demand.tickets_by_day(["2025-11-24"]), ["2025-11-24"], MODELS, prices)
    # Then the default costs what it cost, and the unused model its price ratio on that mix
    assert costs[MODELS[0]] == 1_000
    mini = 5_000 * 150_000 + 500 * 600_000  # per ticket, µ$ per 1M tokens
    nano = 5_000 * 100_000 + 500 * 400_000
    assert costs[MODELS[1]] == round(1_000 * nano / mini)


def test_the_rung_steps_down_when_the_day_would_overspend_and_up_with_room_to_spare() -> None:
    need = [900, 600]  # the rest of the day on each rung
    assert choose_rung(need, remaining=1_000, previous=0) == 0
    assert choose_rung(need, remaining=800, previous=0) == 1
    # Hysteresis: back up only with 10% to spare
    assert choose_rung(need, remaining=950, previous=1) == 1
    assert choose_rung(need, remaining=1_000, previous=1) == 0
    # Even the cheapest rung overspends: the cheapest it is
    assert choose_rung(need, remaining=100, previous=0) == 1
