"""A compressed day with 3x more demand than budget, on the real ledger, lot and scheduler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.conftest import REDIS_URL, make_settings
from workers.scheduler.simulation import SimConfig, SimResult, simulate_pair

CFG = SimConfig(hours=24, demand_x=3.0, step_s=120, tickets_per_day=600, seed=11)


@pytest.fixture(scope="module")
def day() -> Iterator[tuple[SimResult, SimResult]]:
    # Given a $50 ceiling and live demand of three times that, shaped like a real day
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    settings = make_settings("pltest-simday")
    # When a whole day is simulated, without and then with a day's worth of replay alongside
    yield simulate_pair(settings, CFG, client)
    client.close()


def test_spend_ends_between_97_and_100_percent_and_never_over(
    day: tuple[SimResult, SimResult],
) -> None:
    for run in day:
        # Then the day ends close to the ceiling and never passes it, even counting holds
        assert 0.97 * run.ceiling_micros <= run.spent_micros <= run.ceiling_micros
        assert run.max_committed_micros <= run.ceiling_micros


def test_spend_never_runs_ahead_of_the_pace_line_by_more_than_the_burst(
    day: tuple[SimResult, SimResult],
) -> None:
    for run in day:
        # Then at every step, cumulative spend <= ceiling x elapsed share of the day + burst
        assert run.max_ahead_micros <= run.burst_micros, (run.max_ahead_micros, run.burst_micros)
        # And the hourly table says the same
        for h in run.hours:
            assert h.cumulative_usd <= h.pace_line_usd + run.burst_micros / 1e6


def test_replay_does_not_make_live_wait_longer(day: tuple[SimResult, SimResult]) -> None:
    without, with_ = day
    # Then live tickets wait no worse than 1.5x with a large replay alongside
    assert with_.live_waits_ms and without.live_waits_ms
    assert with_.live_wait_p95_s() <= 1.5 * without.live_wait_p95_s() + 1
    # And replay did run, but only on money the live lane's reserve did not need
    assert with_.replay_admitted > 0
    assert without.replay_admitted == 0


def test_the_day_degrades_under_a_tight_pace_and_alerts_once(
    day: tuple[SimResult, SimResult],
) -> None:
    without, _ = day
    # Then the peak hours ran on the cheaper model, the quiet night on the default one
    assert sum(h.degraded for h in without.hours[9:17]) > 0
    assert sum(h.degraded for h in without.hours[0:4]) == 0
    # And each threshold alert fired once
    assert without.alerts.count("threshold:50") == 1
    assert without.alerts.count("threshold:80") == 1
