"""The scheduler's tick: the even pace it sets, and releases bounded by what the bucket holds."""

from __future__ import annotations

import redis

from shared.keys import Keys
from shared.ledger import Ledger
from shared.models import Lane
from shared.settings import Settings
from shared.stores.parking import ParkingLot
from tests.conftest import make_settings
from tests.workers.scheduler.helpers import clock_at, message, scheduler, spend


def test_tick_sets_the_even_pace_from_what_is_left(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given a $48 ceiling, $12 spent by 06:00
    settings = make_settings(
        namespace, daily_ceiling_usd="48", tenant_daily_cap_usd="48", user_daily_cap_usd="48"
    )
    clock = clock_at(settings, 6)
    sched, _ = scheduler(settings, clock, r)
    spend(sched.ledger, 12_000_000)
    # When the scheduler ticks
    report = sched.tick()
    # Then the rate is what is left over what is left of the day: $36 / 18 h = $2/h
    pace = r.hgetall(keys.pace)
    assert report.leader
    assert abs(int(pace["rate"]) - 2_000_000) <= 1
    assert int(pace["rate_set_ms"]) == int(clock.now_s() * 1000)
    assert int(pace["burst"]) == sched.ledger.burst_micros() == 48_000_000 * 5 // 100


def test_release_is_bounded_by_the_bucket_and_live_goes_first(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given a bucket holding $0.20 (burst 5% of $4), envelopes of $0.05, and a lot of due tickets
    settings = make_settings(namespace, daily_ceiling_usd="4", live_reserve_pct=30)
    clock = clock_at(settings, 12)
    sched, got = scheduler(settings, clock, r, typical_envelope_micros=50_000)
    lot = ParkingLot(r, keys)
    now_ms = int(clock.now_s() * 1000)
    for i in range(10):
        lot.park(message(f"replay-{i}", Lane.REPLAY), Lane.REPLAY, now_ms - 10_000, "pace")
    for i in range(10):
        lot.park(message(f"live-{i}"), Lane.LIVE, now_ms - 5_000, "pace")
    # When the scheduler ticks
    report = sched.tick()
    # Then it releases what the bucket pays for ($0.20 / $0.05 = 4), all live, none of replay:
    # replay only gets money beyond the live lane's 30% share of the burst
    assert report.released == {"live": 4}
    assert got.lanes == ["live"] * 4
    assert lot.size() == 16


def test_with_pacing_off_every_due_ticket_is_released(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    settings: Settings = make_settings(namespace, pacing="off")
    clock = clock_at(settings, 3)
    sched, got = scheduler(settings, clock, r)
    lot = ParkingLot(r, keys)
    now_ms = int(clock.now_s() * 1000)
    for i in range(30):
        lot.park(
            message(i, Lane.REPLAY if i % 2 else Lane.LIVE),
            Lane.LIVE if i % 2 == 0 else Lane.REPLAY,
            now_ms,
            "x",
        )
    lot.park(message("later"), Lane.LIVE, now_ms + 60_000, "pace")
    report = sched.tick()
    assert report.released == {"live": 15, "replay": 15}
    assert got.lanes[:15] == ["live"] * 15  # live first
    assert lot.size() == 1


def test_tick_reaps_expired_reservations(namespace: str, r: redis.Redis) -> None:
    # Given a reservation whose worker died (its lease runs out)
    settings = make_settings(namespace, reservation_lease_s=10)
    clock = clock_at(settings, 9)
    sched, _ = scheduler(settings, clock, r)
    ledger: Ledger = sched.ledger
    from tests.workers.scheduler.helpers import admit

    d = admit(ledger, "crashed")
    assert d.kind == "admit"
    clock.advance(11)
    # When the scheduler ticks
    report = sched.tick()
    # Then the hold is given back
    assert report.reaped == 1
    assert ledger.reserved() == 0
