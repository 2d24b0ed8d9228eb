"""The ledger's Redis layout choices that its speed depends on (shared/ledger/common.lua)."""

from __future__ import annotations

import pytest
import redis

from shared.clock import ManualClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, Candidate, Ledger
from tests.conftest import make_settings


@pytest.fixture
def ledger(namespace: str, r: redis.Redis) -> tuple[Ledger, redis.Redis, Keys]:
    settings = make_settings(namespace, pacing="off")
    keys = Keys(namespace)
    return Ledger(r, keys, settings, ManualClock(1_780_000_000.0)), r, keys


def admit(led: Ledger, n: int) -> list[str]:
    cand = [Candidate("gpt-4o-mini", 2000, 500)]
    decisions = led.admit_many(
        [AdmissionRequest(f"t{i}", "acme", f"u{i}", "live", cand) for i in range(n)]
    )
    assert all(d.kind == "admit" for d in decisions)
    return [d.reservation_id or "" for d in decisions]


def test_the_books_and_the_ticket_index_are_hash_tables_from_the_first_admission(
    ledger: tuple[Ledger, redis.Redis, Keys],
) -> None:
    led, client, keys = ledger
    # Given a new day / When one ticket is admitted (a handful of fields: a listpack by default)
    (rid,) = admit(led, 1)
    # Then both hashes every admission looks up are hash tables (O(1) per field, not a scan)
    assert client.object("encoding", keys.books(led.day())) == "hashtable"
    assert client.object("encoding", keys.reservation_by_ticket) == "hashtable"
    # And the leases set is a skip list (as a listpack every ZADD parsed every member's score)
    assert client.object("encoding", keys.leases) == "skiplist"
    # And its mark is past every lease: the reaper never reads it, however late it runs
    assert client.zrangebyscore(keys.leases, "-inf", "+inf", withscores=True)[-1][1] == float("inf")
    # And the layout mark is not mistaken for money
    assert led.day_books()["reserved"] == {
        "global": 2000,
        "tenant:acme": 2000,
        "user:acme:u0": 2000,
    }
    # And the reservation names its scopes and starts without zero counters
    res = client.hgetall(keys.reservation(rid))
    assert (res["t"], res["u"]) == ("tenant:acme", "user:acme:u0")
    assert not {"taken", "settled", "drawn", "scopes"} & set(res)
    assert led.reservation(rid)["taken"] == "0"  # read as zero
    # And when the reaper runs any time later, it closes the lease and leaves the mark
    led._clock.advance(10 * 24 * 3600)  # type: ignore[attr-defined]
    assert led.reap() == 1
    assert client.zcard(keys.leases) == 1


def test_settle_and_release_book_to_the_scopes_the_reservation_names(
    ledger: tuple[Ledger, redis.Redis, Keys],
) -> None:
    led, _, _ = ledger
    rids = admit(led, 3)
    # When each settles a call and closes
    assert led.settle_many([(rid, "c1", 100 * (i + 1)) for i, rid in enumerate(rids)])
    led.release_many(rids)
    # Then each requester's spend is its own, the tenant's and the day's are their sum
    books = led.day_books()
    assert books["spent"] == {
        "global": 600,
        "tenant:acme": 600,
        "user:acme:u0": 100,
        "user:acme:u1": 200,
        "user:acme:u2": 300,
    }
    assert set(books["reserved"].values()) == {0}
    # And the calls are counted for the day (the one count anything reads), not per scope
    assert books["calls"] == {"global": 3}


def test_an_expired_hold_is_reaped_before_it_could_refuse_anyone(
    namespace: str, r: redis.Redis
) -> None:
    # Given a ceiling one envelope wide, held by a worker that then died (its lease runs out)
    settings = make_settings(
        namespace,
        pacing="off",
        daily_ceiling_usd="0.002",
        tenant_daily_cap_usd="0.002",
        user_daily_cap_usd="0.002",
        reservation_lease_s=30,
    )
    clock = ManualClock(1_780_000_000.0)
    led = Ledger(r, Keys(namespace), settings, clock)
    cand = [Candidate("gpt-4o-mini", 2000, 500)]
    dead = led.admit(AdmissionRequest("t-dead", "acme", "u1", "live", cand))
    assert dead.kind == "admit" and dead.grant_micros == 2000
    # While the lease runs, the money is held: the next ticket waits
    assert led.admit(AdmissionRequest("t-2", "acme", "u2", "live", cand)).kind == "defer"
    # When the lease has run out, the next admission reaps the dead hold and gets the money
    clock.advance(31)
    second = led.admit(AdmissionRequest("t-3", "acme", "u3", "live", cand))
    assert second.kind == "admit" and second.grant_micros == 2000
    assert led.reservation(dead.reservation_id or "")["state"] == "closed"
    assert led.reserved() == 2000


def test_a_reservation_in_the_old_layout_still_settles_and_closes(
    ledger: tuple[Ledger, redis.Redis, Keys],
) -> None:
    led, client, keys = ledger
    # Given a reservation opened by an older worker: one "global|t|u" scopes string, zero
    # counters written out (a worker upgraded mid-ticket settles and closes it)
    day = led.day()
    client.hset(
        keys.reservation("old1"),
        mapping={
            "grant": 2000, "taken": 0, "settled": 0, "drawn": 0, "day": day,
            "scopes": "global|tenant:acme|user:acme:old", "state": "open", "ticket": "t-old",
            "model": "gpt-4o-mini", "lane": "live", "lease_until": 1, "admitted_ms": 1,
        },
    )  # fmt: skip
    client.hset(
        keys.books(day),
        mapping={f"reserved:{s}": 2000 for s in ("global", "tenant:acme", "user:acme:old")},
    )
    client.zadd(keys.leases, {"old1": led.now_ms() + 60_000})
    client.hset(keys.reservation_by_ticket, "t-old", "old1")
    # When a call of it settles and it is released
    assert led.settle("old1", "c1", 700)
    assert led.release("old1") == 1300
    # Then its scopes were booked as they would be today
    books = led.day_books()
    assert books["spent"] == {"global": 700, "tenant:acme": 700, "user:acme:old": 700}
    assert set(books["reserved"].values()) == {0}
    assert led.reservation("old1")["state"] == "closed"


def test_a_closed_reservation_writes_only_what_changed_and_stays_readable_for_a_day(
    ledger: tuple[Ledger, redis.Redis, Keys],
) -> None:
    led, client, keys = ledger
    quiet, drew = admit(led, 2)
    # Given one ticket that drew nothing and one whose drawn call never settled
    assert led.draw(drew, "c1", 700).ok
    # When both are closed
    led.release_many([quiet, drew])
    # Then the quiet one only changed state (no zero counters written)
    res = client.hgetall(keys.reservation(quiet))
    assert res["state"] == "closed" and not {"taken", "settled", "drawn"} & set(res)
    # And the other was charged its draw's worst case, marked for a late settle to correct
    res = client.hgetall(keys.reservation(drew))
    assert (res["state"], res["drawn"], res["taken"], res["settled"]) == (
        "closed",
        "0",
        "700",
        "700",
    )
    assert res["s:c1"] == "x:700"
    # And both keep about a day to live (the TTL admission or the draw gave them)
    for rid in (quiet, drew):
        assert 23 * 3600 < client.ttl(keys.reservation(rid)) <= 25 * 3600
    assert led.settle(drew, "c1", 300) and led.spent() == 300
