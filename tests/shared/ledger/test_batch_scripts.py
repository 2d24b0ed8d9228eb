"""One admit script and one settle script per batch (shared/ledger/admit.lua, settle.lua): the
caps, the books and the pace are read once a batch and written at its end, so these tests check
that a batch decides exactly as the same tickets one script at a time would, and that a ticket
or a settle that fails takes nothing else with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from shared.clock import ManualClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, Candidate, Decision, Ledger
from tests.conftest import delete_namespace, make_settings

T0 = 1_780_000_000.0
CAND = [Candidate("gpt-4o-mini", 2000, 500)]


def make_ledger(ns: str, r: redis.Redis, clock: ManualClock, **env: str) -> Ledger:
    return Ledger(r, Keys(ns), make_settings(ns, **{"pacing": "off", **env}), clock)


@pytest.fixture
def led(namespace: str, r: redis.Redis) -> Iterator[Ledger]:
    ledger = make_ledger(namespace, r, ManualClock(T0))
    yield ledger
    ledger.close()


def req(
    ticket: str, user: str = "u1", tenant: str = "acme", lane: str = "live"
) -> AdmissionRequest:
    return AdmissionRequest(ticket, tenant, user, lane, CAND)


def held(led: Ledger) -> dict[str, int]:
    return led.day_books().get("reserved", {})


def test_each_ticket_in_a_batch_sees_what_the_ones_before_it_took(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    # Given a ceiling of two and a half envelopes
    r.hset(keys.caps, "global", 5000)
    # When five tickets are admitted in one batch
    ds = led.admit_many([req(f"t{i}", user=f"u{i % 2}") for i in range(5)])
    # Then two get a full envelope, the third what is left, the rest wait for held money
    assert [(d.kind, d.grant_micros, d.reason) for d in ds] == [
        ("admit", 2000, "full"),
        ("admit", 2000, "full"),
        ("admit", 1000, "partial"),
        ("defer", 0, "global_cap_held"),
        ("defer", 0, "global_cap_held"),
    ]
    # And the books hold exactly what was granted, per scope (written once, at the end)
    assert held(led) == {
        "global": 5000,
        "tenant:acme": 5000,
        "user:acme:u0": 3000,
        "user:acme:u1": 2000,
    }
    # And each admitted ticket has its open reservation, its lease and its index entry
    for i, d in enumerate(ds[:3]):
        rid = d.reservation_id or ""
        assert led.reservation(rid)["state"] == "open"
        assert r.zscore(keys.leases, rid) is not None
        assert r.hget(keys.reservation_by_ticket, f"t{i}") == rid


def test_a_ticket_twice_in_one_batch_reuses_its_own_reservation(led: Ledger) -> None:
    a, b = led.admit_many([req("same"), req("same")])
    assert (a.kind, a.reused) == ("admit", False)
    assert (b.kind, b.reused, b.reservation_id) == ("admit", True, a.reservation_id)
    assert held(led)["global"] == 2000


def test_a_ticket_whose_part_fails_takes_nothing_else_with_it(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    # Given a corrupt cap for one requester
    r.hset(keys.caps, "user:acme:bad", "lots")
    # When a batch holds that requester's ticket between two others
    _, out = led.admit_batch([req("t1"), req("t2", user="bad"), req("t3")], lambda pipe: None)
    # Then only that ticket fails, with the script's error
    first, bad, last = out
    assert isinstance(bad, redis.exceptions.ResponseError)
    assert isinstance(first, Decision) and first.kind == "admit"
    assert isinstance(last, Decision) and last.kind == "admit"
    # And nothing of it was written: no hold, no index entry
    assert held(led) == {"global": 4000, "tenant:acme": 4000, "user:acme:u1": 4000}
    assert r.hget(keys.reservation_by_ticket, "t2") is None


def test_a_refusal_mid_batch_reaps_an_expired_hold_and_decides_again(
    namespace: str, r: redis.Redis, keys: Keys
) -> None:
    clock = ManualClock(T0)
    led = make_ledger(namespace, r, clock)
    try:
        # Given a ceiling of one envelope, held by a crashed worker's ticket
        r.hset(keys.caps, "global", 2000)
        (crashed,) = led.admit_many([req("crashed")])
        # When its lease has run out and a batch comes whose first ticket takes the rest
        clock.advance(led._settings.reservation_lease_s + 1)
        a, b = led.admit_many([req("t1"), req("t2")])
        # Then the first was admitted from the reaped hold (the refusal reaped, then decided
        # again on what the reap wrote), and the second waits for held money
        assert (a.kind, a.grant_micros) == ("admit", 2000)
        assert (b.kind, b.reason) == ("defer", "global_cap_held")
        assert led.reservation(crashed.reservation_id or "")["state"] == "closed"
        # And the books hold exactly the new ticket
        assert held(led) == {"global": 2000, "tenant:acme": 2000, "user:acme:u1": 2000}
        assert r.hget(keys.reservation_by_ticket, "crashed") is None
    finally:
        led.close()


def test_settles_sent_together_are_each_idempotent_and_book_once(led: Ledger) -> None:
    (a, b) = led.admit_many([req("t1"), req("t2", user="u2")])
    ra, rb = a.reservation_id or "", b.reservation_id or ""
    # When a batch settles a call twice, another call, and an unknown reservation
    out = led.settle_many([(ra, "c1", 300), (ra, "c1", 300), (rb, "c1", 200), ("nope", "c", 5)])
    # Then only the first of the repeated pair counted
    assert out == [True, False, True, False]
    books = led.day_books()
    assert books["spent"] == {
        "global": 500,
        "tenant:acme": 500,
        "user:acme:u1": 300,
        "user:acme:u2": 200,
    }
    assert books["reserved"]["global"] == 4000 - 500
    assert books["calls"]["global"] == 2


def test_a_settle_that_fails_in_a_batch_raises_and_the_others_are_booked(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    (a,) = led.admit_many([req("t1")])
    r.hset(keys.reservation("corrupt"), mapping={"state": "open", "grant": 5, "day": led.day()})
    with pytest.raises(redis.exceptions.ResponseError):
        led.settle_many([(a.reservation_id or "", "c1", 300), ("corrupt", "c1", 1)])
    assert led.day_books()["spent"]["global"] == 300
    assert led.reservation(a.reservation_id or "")["settled"] == "300"


requests = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2", "t3", "t4", "t5", "t6"]),  # repeats: reuse in the batch
        st.sampled_from(["acme", "globex"]),
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["live", "replay"]),
        st.sampled_from([(2000, 500), (900, 300), (3000, 2500)]),
    ),
    min_size=1,
    max_size=12,
)


@hsettings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reqs=requests, ceiling=st.integers(1000, 12000), pacing=st.sampled_from(["off", "even"]))
def test_a_batch_decides_as_the_same_tickets_one_script_at_a_time(
    r: redis.Redis,
    reqs: list[tuple[str, str, str, str, tuple[int, int]]],
    ceiling: int,
    pacing: str,
) -> None:
    """The same requests, on two fresh namespaces at the same instant: one batch against one
    script per ticket. Every decision and every number in the books and the pace agree."""
    asks = [
        AdmissionRequest(t, tenant, u, lane, [Candidate("gpt-4o-mini", full, low)])
        for t, tenant, u, lane, (full, low) in reqs
    ]
    namespaces = [f"pltest-batch-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        results = []
        for k, ns in enumerate(namespaces):
            led = make_ledger(
                ns,
                r,
                ManualClock(T0),
                pacing=pacing,
                daily_ceiling_usd="1",
                pace_burst_pct="30",
            )
            r.hset(Keys(ns).caps, mapping={"global": ceiling, "user:*": ceiling * 2 // 3})
            if k == 0:
                ds = led.admit_many(asks)
            else:
                ds = [led.admit_many([a])[0] for a in asks]
            pace = r.hgetall(Keys(ns).pace)
            results.append(
                (
                    [(d.kind, d.reason, d.grant_micros, d.until_ms, d.reused) for d in ds],
                    led.day_books(),
                    pace,
                )
            )
            led.close()
        assert results[0] == results[1]
    finally:
        for ns in namespaces:
            delete_namespace(r, ns)


def test_a_batch_longer_than_a_script_goes_as_several_in_order(
    led: Ledger, r: redis.Redis, keys: Keys
) -> None:
    from shared.ledger.ledger import SCRIPT_BATCH
    from shared.redis_client import LeanPipeline

    n = SCRIPT_BATCH * 2 + 3
    # Given a ceiling that runs out in the second script
    r.hset(keys.caps, "global", 2000 * (SCRIPT_BATCH + 5))
    sent: list[int] = []
    real_evalsha = LeanPipeline.evalsha

    def spy(self: LeanPipeline, sha: str, k: object, a: object) -> None:
        sent.append(len(k))  # type: ignore[arg-type]
        real_evalsha(self, sha, k, a)  # type: ignore[arg-type]

    LeanPipeline.evalsha = spy  # type: ignore[method-assign]
    try:
        # When one batch of more tickets than a script takes is admitted
        ds = led.admit_many([req(f"t{i}", user=f"u{i % 7}") for i in range(n)])
    finally:
        LeanPipeline.evalsha = real_evalsha  # type: ignore[method-assign]
    # Then it went as three scripts in one round trip
    assert len(sent) == 3
    # And the decisions are in order, each seeing the ones before it, across the scripts
    assert [d.kind for d in ds] == ["admit"] * (SCRIPT_BATCH + 5) + ["defer"] * (
        n - SCRIPT_BATCH - 5
    )
    assert held(led)["global"] == 2000 * (SCRIPT_BATCH + 5)
    # And settles past a script's size are all booked, each once
    calls = [(d.reservation_id or "", "c1", 100) for d in ds if d.kind == "admit"]
    assert led.settle_many(calls + calls[:2]) == [True] * len(calls) + [False, False]
    assert led.day_books()["spent"]["global"] == 100 * len(calls)
