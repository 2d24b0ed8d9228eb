"""The history reconciles with the ledger to the micro-dollar: the real Ledger's scripts (admit,
draw, settle, release, reap) add the facts, the archiver stores them, and each budget day
summed in the database equals that day's books in Redis, globally and per tenant."""

from __future__ import annotations

import random
from datetime import date

import pytest
import redis
from sqlalchemy import Engine, create_engine, func, select

from shared.clock import ManualClock
from shared.history.archiver import Archiver
from shared.history.database import make_engine
from shared.history.reports import Period, day_total, spend
from shared.history.schema import model_calls
from shared.keys import Keys
from shared.ledger import AdmissionRequest, CallTokens, Candidate, Ledger
from shared.settings import Settings
from tests.conftest import make_settings
from tests.shared.history.conftest import drain, empty_tables, make_archiver

TENANTS = ("acme", "globex", "initech")
DAY_S = 24 * 3600


def one_day(ledger: Ledger, clock: ManualClock, rng: random.Random, n_tickets: int) -> None:
    """A day's traffic: tickets admitted, their calls drawn and settled, most closed; some
    left to their lease with a call in flight (the reaper charges its worst case), and some
    of those settled late (the charge corrected to the truth)."""
    reqs = [
        AdmissionRequest(
            f"t-{clock.now_s():.0f}-{i}",
            rng.choice(TENANTS),
            f"u{rng.randrange(6)}",
            rng.choice(("live", "live", "replay")),
            [Candidate("gpt-4o-mini", 30_000, 2_000)],
            outcome_key=f"T-{clock.now_s():.0f}-{i}",
            event_id="e1",
        )
        for i in range(n_tickets)
    ]
    stranded: list[tuple[str, str, int]] = []
    for d in ledger.admit_many(reqs):
        assert d.kind == "admit", d
        rid = d.reservation_id or ""
        for call in range(rng.randrange(1, 4)):
            worst = rng.randrange(3_000, 9_000)
            assert ledger.draw(rid, f"c{call}", worst).ok
            actual = rng.randrange(0, worst)
            if rng.random() < 0.1:
                stranded.append((rid, f"c{call}", actual))  # the worker dies mid-call
                break
            tokens = CallTokens(actual // 2, rng.randrange(50), actual // 10, "gpt-4o-mini")
            ledger.settle(rid, f"c{call}", actual, tokens)
        else:
            ledger.release(rid)
        clock.advance(rng.randrange(1, 30))
    clock.advance(ledger._settings.reservation_lease_s + 1)
    while ledger.reap():
        pass
    for rid, call, actual in stranded:
        if rng.random() < 0.5:
            ledger.settle(rid, call, actual)  # the late settle after the lease expired


def redis_spent(ledger: Ledger, day: str, scope: str = "global") -> int:
    return ledger.day_books(day)["spent"].get(scope, 0)


def build(namespace: str, url: str, clock: ManualClock, r: redis.Redis) -> tuple[Ledger, Archiver]:
    settings: Settings = make_settings(
        namespace, pacing="off", daily_ceiling_usd="100000", tenant_daily_cap_usd="50000",
        user_daily_cap_usd="10000", database_url=url,
    )  # fmt: skip
    engine = make_engine(settings)
    arch = make_archiver(settings, r, engine, clock)
    arch.ensure_group()
    return Ledger(r, Keys(namespace), settings, clock), arch


def test_a_day_in_the_database_matches_its_books_in_redis_to_the_micro_dollar(
    namespace: str, engine: Engine, db_url: str, clock: ManualClock, r: redis.Redis
) -> None:
    # Given a day of traffic through the real ledger, with lease expiries and late settles
    ledger, arch = build(namespace, db_url, clock, r)
    day = ledger.day()
    one_day(ledger, clock, random.Random(24), 60)
    # When the archiver drains the stream
    written, rejected = drain(arch)
    assert written > 60 and rejected == 0
    # Then the day's total and every tenant's match the books exactly
    total, _ = day_total(engine, date.fromisoformat(day))
    assert total == redis_spent(ledger, day) > 0
    for tenant in TENANTS:
        got, _ = day_total(engine, date.fromisoformat(day), tenant=tenant)
        assert got == redis_spent(ledger, day, f"tenant:{tenant}"), tenant
    # And the lease expiries are there: some still charged at their worst case, some corrected
    with engine.connect() as conn:
        charged = conn.execute(
            select(func.count()).where(model_calls.c.expired_charge)
        ).scalar_one()
        lanes = set(conn.execute(select(model_calls.c.lane).distinct()).scalars())
    assert charged > 0
    assert lanes == {"live", "replay"}
    arch.engine.dispose()


@pytest.mark.slow
def test_a_month_of_traffic_on_postgresql_reconciles_day_by_day_and_tenant_by_tenant(
    namespace: str, pg_url: str, r: redis.Redis
) -> None:
    # Given a month of generated traffic against the real PostgreSQL
    plain = create_engine(pg_url)
    empty_tables(plain)
    plain.dispose()
    clock = ManualClock(1_793_491_200.0)  # 2026-11-01 00:00 UTC
    ledger, arch = build(namespace, pg_url, clock, r)
    rng = random.Random(11)
    days = []
    for _ in range(30):
        start = clock.now_s()
        days.append(ledger.day())
        one_day(ledger, clock, rng, 25)
        drain(arch)  # the archiver keeps up during the month
        clock.set(start + DAY_S)
    # When the month is reported
    month = Period(date(2026, 11, 1), date(2026, 11, 30))
    by_day = {row["day"]: row["cost_micros"] for row in spend(arch.engine, month, "day")}
    by_tenant = {row["tenant"]: row["cost_micros"] for row in spend(arch.engine, month, "tenant")}
    # Then every day and every tenant's month match the ledger's books
    assert days[0] == "2026-11-01" and days[-1] == "2026-11-30"
    assert by_day == {d: redis_spent(ledger, d) for d in days}
    for tenant in TENANTS:
        assert by_tenant[tenant] == sum(redis_spent(ledger, d, f"tenant:{tenant}") for d in days)
    arch.engine.dispose()
