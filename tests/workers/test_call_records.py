"""After a model call: settle, circuit record and rate-limit headers in one Redis round trip,
and what is left of the envelope known without reading the reservation again."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import shared.redis_client
from shared.clock import ManualClock
from shared.keys import Keys
from shared.ledger import AdmissionRequest, CallTokens, Candidate, Ledger, ReservationBudget
from shared.stores.circuit import ProviderCircuit
from shared.stores.provider_limits import ProviderLimits
from tests.conftest import make_settings
from workers.call_records import CallRecords

GRANT = 2_000_000
HEADERS = {"x-ratelimit-remaining-requests": "41", "x-ratelimit-reset-requests": "2s"}


def _budget(ledger: Ledger, event: str) -> ReservationBudget:
    decision = ledger.admit(
        AdmissionRequest(f"generic:T:{event}", "acme", "u-1", "live",
                         [Candidate("gpt-4o-mini", GRANT, 10_000)])
    )  # fmt: skip
    assert decision.kind == "admit" and decision.reservation_id
    return ReservationBudget(ledger, decision.reservation_id, decision.grant_micros)


def _truth(ledger: Ledger, budget: ReservationBudget) -> int:
    r = ledger.reservation(budget.reservation_id)
    return int(r["grant"]) - int(r["taken"]) - int(r["drawn"])


@pytest.fixture
def parts(namespace: str) -> Iterator[tuple[Ledger, ProviderCircuit, ProviderLimits]]:
    settings = make_settings(namespace, pacing="off", daily_ceiling_usd=1000,
                             tenant_daily_cap_usd=1000, user_daily_cap_usd=1000)  # fmt: skip
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    clock = ManualClock()
    keys = Keys(settings.namespace)
    ledger = Ledger(client, keys, settings, clock)
    yield (
        ledger,
        ProviderCircuit(client, keys, settings, clock),
        ProviderLimits(client, keys, clock),
    )
    ledger.close()
    client.close()


def test_settle_record_and_limits_go_in_one_round_trip(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, circuit, limits = parts
    budget = _budget(ledger, "one-trip")
    assert budget.draw("c1", 50_000)
    sent: list[int] = []
    real = shared.redis_client.send_commands

    def counting(client: Any, commands: Any, conns: Any = None) -> list[Any]:
        sent.append(len(commands))
        return real(client, commands, conns)

    monkeypatch.setattr(shared.redis_client, "send_commands", counting)
    # When a failed attempt is recorded with a response's headers
    CallRecords(circuit, limits, ledger).after(
        budget, "c1", 1_234, CallTokens(10, 0, 5, "gpt-4o-mini"), ok=False, headers=HEADERS
    )
    # Then one write carried three commands, and each landed
    assert sent == [3]
    res = ledger.reservation(budget.reservation_id)
    assert int(res["taken"]) == 1_234 and int(res["drawn"]) == 0
    assert circuit.snapshot()["window_err"] == 1
    assert limits.state()["remaining_requests"] == 41
    # And what is left is known without another read
    assert budget.remaining_micros() == _truth(ledger, budget) == budget.grant_micros - 1_234
    assert sent == [3]


def test_no_record_and_no_headers_send_the_settle_alone(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits],
) -> None:
    ledger, circuit, limits = parts
    budget = _budget(ledger, "settle-only")
    assert budget.draw("c1", 50_000)
    CallRecords(circuit, limits, ledger).after(budget, "c1", 50_000, CallTokens(), ok=None)
    assert int(ledger.reservation(budget.reservation_id)["taken"]) == 50_000
    snap = circuit.snapshot()
    assert snap["window_ok"] == 0 and snap["window_err"] == 0
    assert limits.state() == {}


def test_what_is_left_tracks_the_reservation_through_draws_and_settles(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits],
) -> None:
    ledger, circuit, limits = parts
    rng = random.Random(23)
    records = CallRecords(circuit, limits, ledger)
    for run in range(5):
        budget = _budget(ledger, f"track-{run}")
        for n in range(12):
            worst = rng.randint(1, 400_000)
            drawn = budget.draw(f"c{n}", worst)
            assert budget.remaining_micros() == _truth(ledger, budget)
            if not drawn:
                continue
            cost = rng.choice([0, worst, rng.randint(0, worst), worst + 1])
            if rng.random() < 0.5:
                budget.settle(f"c{n}", cost)
            else:
                records.after(budget, f"c{n}", cost, CallTokens(), ok=True)
            # A repeat settle changes nothing and is known not to
            if rng.random() < 0.2:
                budget.settle(f"c{n}", cost)
            assert budget.remaining_micros() == _truth(ledger, budget)


def test_a_closed_reservation_is_refused_at_the_next_draw(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits],
) -> None:
    ledger, _, _ = parts
    budget = _budget(ledger, "closed")
    assert budget.draw("c1", 10_000)
    budget.settle("c1", 5_000)
    ledger.release(budget.reservation_id)
    # The figure may be stale, but the draw script is the authority
    assert not budget.draw("c2", 1)
    assert budget.lost and budget.remaining_micros() == 0


def test_the_check_and_the_draw_go_in_one_round_trip_while_the_circuit_is_closed(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, circuit, limits = parts
    records = CallRecords(circuit, limits, ledger)
    budget = _budget(ledger, "before")
    sent: list[int] = []
    real = shared.redis_client.send_commands

    def counting(client: Any, commands: Any, conns: Any = None) -> list[Any]:
        sent.append(len(commands))
        return real(client, commands, conns)

    monkeypatch.setattr(shared.redis_client, "send_commands", counting)
    assert records.before(budget, "c1", 40_000) == "go"
    assert sent == [2]
    assert int(ledger.reservation(budget.reservation_id)["drawn"]) == 40_000
    # A worst case past the envelope is refused, and nothing is held for it
    assert records.before(budget, "c2", budget.grant_micros) == "no_money"
    assert int(ledger.reservation(budget.reservation_id)["drawn"]) == 40_000


def test_a_circuit_found_open_holds_no_money_and_the_next_check_goes_alone(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits], r: redis.Redis, keys: Keys
) -> None:
    ledger, circuit, limits = parts
    records = CallRecords(circuit, limits, ledger)
    budget = _budget(ledger, "open")
    spent_before = ledger.spent("global")
    # Given another worker opened the circuit since this one last looked
    r.hset(keys.circuit, mapping={"state": "open", "retry_at_ms": 2**50})
    # When a call is about to go
    assert records.before(budget, "c1", 40_000) == "circuit_open"
    # Then the draw that went with the check was given back whole
    res = ledger.reservation(budget.reservation_id)
    assert int(res["drawn"]) == 0 and int(res["taken"]) == 0
    assert ledger.spent("global") == spent_before
    assert budget.remaining_micros() == budget.grant_micros
    # And while it stays open, the check goes first and nothing is drawn at all
    assert records.before(budget, "c2", 40_000) == "circuit_open"
    assert not [f for f in ledger.reservation(budget.reservation_id) if f.endswith(":c2")]
    # Once it closes, calls go again
    r.hset(keys.circuit, mapping={"state": "closed", "retry_at_ms": 0})
    assert records.before(budget, "c3", 40_000) == "go"
    assert records.before(budget, "c4", 40_000) == "go"


def test_a_fresh_reservation_knows_its_grant_is_left_without_a_read(
    parts: tuple[Ledger, ProviderCircuit, ProviderLimits], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, _, _ = parts
    made = _budget(ledger, "fresh")
    budget = ReservationBudget.fresh(ledger, made.reservation_id, made.grant_micros)
    monkeypatch.setattr(ledger, "reservation", lambda rid: pytest.fail("read the reservation"))
    assert budget.remaining_micros() == made.grant_micros
    monkeypatch.undo()
    assert budget.remaining_micros() == _truth(ledger, budget)
