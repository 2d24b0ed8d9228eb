"""Admission as the scheduler paces it: the live reserve, the model ladder, caps and the
acknowledgement a capped customer gets."""

from __future__ import annotations

import redis

from shared.clock import day_bounds_s
from shared.keys import Keys
from shared.ledger import Candidate
from shared.models import Ticket
from tests.conftest import make_settings
from tests.helpers import generic_ticket
from tests.workers.scheduler.helpers import admit, clock_at, scheduler, spend
from workers.admission.acknowledge import acknowledge_cap

LADDER = [Candidate("gpt-4o-mini", 14_400, 1_000), Candidate("gpt-4.1-nano", 9_600, 700)]


def test_replay_only_uses_budget_beyond_the_live_reserve(namespace: str, r: redis.Redis) -> None:
    # Given a $1 ceiling with 30% kept for live, and $0.69 already spent
    settings = make_settings(
        namespace,
        daily_ceiling_usd="1",
        tenant_daily_cap_usd="1",
        user_daily_cap_usd="1",
        live_reserve_pct=30,
        pace_burst_pct=100,
    )
    clock = clock_at(settings, 12)
    sched, _ = scheduler(settings, clock, r)
    spend(sched.ledger, 690_000)
    sched.tick()
    cand = [Candidate("m", 20_000, 20_000)]
    # When a replay ticket and a live ticket ask for $0.02 each
    replay = admit(sched.ledger, "r1", "replay", candidates=cand)
    live = admit(sched.ledger, "l1", "live", candidates=cand)
    # Then replay waits for tomorrow (it would cut into the live reserve), live is admitted
    _, day_end_s = day_bounds_s(clock.now_s(), settings.tz)
    assert replay.kind == "defer" and replay.reason == "live_reserve_daily_cap"
    assert replay.until_ms == int(day_end_s * 1000)
    assert live.kind == "admit"


def test_replay_cannot_empty_the_bucket_ahead_of_live(namespace: str, r: redis.Redis) -> None:
    # Given a bucket of $0.10 (5% of $2) of which 30% is live's share
    settings = make_settings(namespace, daily_ceiling_usd="2", live_reserve_pct=30)
    clock = clock_at(settings, 12)
    sched, _ = scheduler(settings, clock, r)
    sched.tick()
    cand = [Candidate("m", 10_000, 10_000)]
    # When replay takes all it may
    replay_admitted = 0
    while admit(sched.ledger, f"r{replay_admitted}", "replay", candidates=cand).kind == "admit":
        replay_admitted += 1
    # Then it stopped at 70% of the bucket, and live still gets the rest
    assert replay_admitted == 7
    live = [admit(sched.ledger, f"l{i}", "live", candidates=cand).kind for i in range(3)]
    assert live == ["admit"] * 3


def test_tight_pace_degrades_to_the_cheaper_model_and_back(namespace: str, r: redis.Redis) -> None:
    # Given a paced day whose bucket is full
    settings = make_settings(
        namespace, daily_ceiling_usd="4", tenant_daily_cap_usd="4", user_daily_cap_usd="4"
    )
    clock = clock_at(settings, 10)
    sched, _ = scheduler(settings, clock, r)
    sched.tick()
    first = admit(sched.ledger, "t0", candidates=LADDER)
    assert first.kind == "admit" and first.model == "gpt-4o-mini"
    # When the bucket runs under a quarter of its burst ($0.05 of $0.20)
    models = [admit(sched.ledger, f"t{i}", candidates=LADDER).model for i in range(1, 14)]
    # Then admission steps down the ladder before it refuses
    assert models[0] == "gpt-4o-mini"
    assert "gpt-4.1-nano" in models
    assert sched.ledger.pace_state()["tokens"] * 4 < sched.ledger.burst_micros()
    # And when the pace recovers (time passes, the scheduler refills the rate), back up
    clock.advance(3600)
    sched.tick()
    again = admit(sched.ledger, "t-after", candidates=LADDER)
    assert again.kind == "admit" and again.model == "gpt-4o-mini" and again.reason == "full"


def test_user_cap_parks_until_midnight_with_an_acknowledgement(
    namespace: str, r: redis.Redis
) -> None:
    # Given a requester who has spent their $0.50 for the day
    settings = make_settings(namespace, user_daily_cap_usd="0.5", timezone="Europe/Paris")
    clock = clock_at(settings, 15)
    sched, _ = scheduler(settings, clock, r)
    spend(sched.ledger, 499_500, user="u-1")
    sched.tick()
    # When they send another ticket
    d = admit(sched.ledger, "again", user="u-1", candidates=LADDER)
    # Then it is parked until local midnight, with the reason
    _, midnight_s = day_bounds_s(clock.now_s(), settings.tz)
    assert (d.kind, d.reason, d.until_ms) == ("defer", "user_daily_cap", int(midnight_s * 1000))
    # And the customer gets a polite acknowledgement naming when automatic answers resume
    ticket = Ticket.model_validate(generic_ticket(5))
    text = acknowledge_cap(settings, clock, ticket, d.reason)
    assert "member of our team" in text and "00:00 (Europe/Paris)" in text and "T-5" in text
    assert "ann@example.com" not in text and "Ann" not in text
    tenant_text = acknowledge_cap(settings, clock, ticket, "tenant_daily_cap")
    assert tenant_text != text and "limit for today" in tenant_text


def test_tenant_cap_reason(namespace: str, r: redis.Redis, keys: Keys) -> None:
    settings = make_settings(namespace, tenant_daily_cap_usd="1", pacing="off")
    clock = clock_at(settings, 9)
    sched, _ = scheduler(settings, clock, r)
    for i in range(4):
        spend(sched.ledger, 250_000, user=f"u{i}", key=f"k{i}")
    d = admit(sched.ledger, "over", user="fresh", candidates=LADDER)
    assert (d.kind, d.reason) == ("defer", "tenant_daily_cap")
