"""Both enqueue paths (one Lua script on the broker's Redis, and the general path RabbitMQ
uses) keep the same promises: one job per delivery, pending recorded, message on its lane."""

from __future__ import annotations

import dramatiq
import pytest
import redis

from producers.enqueue import Intake, shares_redis
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.errors import DeliveryInFlight
from shared.keys import Keys, delivery_key
from shared.models import Lane, OutcomeStatus, Ticket
from shared.stores.demand import DemandStore
from shared.stores.outcomes import OutcomeStore
from tests.conftest import make_settings
from tests.helpers import generic_ticket, tkey


@pytest.mark.parametrize("direct", [True, False])
def test_one_job_per_delivery_on_both_paths(namespace: str, r: redis.Redis, direct: bool) -> None:
    settings = make_settings(namespace)
    broker = build_broker(settings)
    assert shares_redis(broker, r)
    keys = Keys(namespace)
    intake = Intake(
        broker=broker,
        client=r,
        keys=keys,
        clock=ManualClock(),
        dedupe_window_s=60,
        direct_redis=direct,
    )
    ticket = Ticket.model_validate(generic_ticket(7))
    # When the same delivery arrives three times
    first, *again = [intake.submit(ticket, Lane.REPLAY) for _ in range(3)]
    # Then one message is queued on the replay lane, and the repeats name the first job
    assert not first.duplicate and all(a.duplicate and a.job_id == first.job_id for a in again)
    queue = f"{keys.dramatiq_namespace}:{Lane.REPLAY.queue_name}"
    assert r.llen(queue) == 1 and r.hlen(queue + ".msgs") == 1
    outcome = OutcomeStore(r, keys).get(tkey("T-7"))
    assert outcome is not None and outcome.status == OutcomeStatus.PENDING
    assert outcome.job_id == first.job_id and outcome.lane == Lane.REPLAY
    assert r.ttl(keys.dedupe(delivery_key("acme", "generic", "evt-7"))) > 30
    broker.close()


@pytest.mark.parametrize("direct", [True, False])
def test_an_unconfirmed_claim_is_never_answered_duplicate(
    namespace: str, r: redis.Redis, direct: bool
) -> None:
    # Given a delivery whose first attempt died after claiming but before queueing
    settings = make_settings(namespace)
    broker = build_broker(settings)
    keys = Keys(namespace)
    intake = Intake(
        broker=broker,
        client=r,
        keys=keys,
        clock=ManualClock(),
        dedupe_window_s=60,
        direct_redis=direct,
    )
    ticket = Ticket.model_validate(generic_ticket(8))
    r.set(keys.dedupe(delivery_key("acme", "generic", "evt-8")), "claim:dead-attempt", ex=60)
    # When the vendor retries while that claim lives, Then it is asked to come back (503)
    with pytest.raises(DeliveryInFlight):
        intake.submit(ticket)
    # And once the short claim has expired, the retry is accepted and queued
    r.delete(keys.dedupe(delivery_key("acme", "generic", "evt-8")))
    assert intake.submit(ticket).duplicate is False
    assert r.llen(f"{keys.dramatiq_namespace}:{Lane.LIVE.queue_name}") == 1
    broker.close()


@pytest.mark.parametrize("direct", [True, False])
def test_live_arrivals_are_counted_by_hour_once_per_delivery(
    namespace: str, r: redis.Redis, direct: bool
) -> None:
    # Given the budget day in Paris, at 10:30 local time
    settings = make_settings(namespace, timezone="Europe/Paris")
    broker = build_broker(settings)
    keys = Keys(namespace)
    clock = ManualClock(1_764_000_000.0)  # 2025-11-24 16:00 UTC is 17:00 in Paris
    intake = Intake(broker=broker, client=r, keys=keys, clock=clock, dedupe_window_s=60,
                    direct_redis=direct, tz=settings.tz)  # fmt: skip
    # When two live tickets arrive (one of them delivered twice) and one replay ticket
    for n in (1, 2, 2):
        intake.submit(Ticket.model_validate(generic_ticket(n)), Lane.LIVE)
    intake.submit(Ticket.model_validate(generic_ticket(3)), Lane.REPLAY)
    # Then the forecast's input counts the two live tickets, in the local hour they came in
    demand = DemandStore(r, keys, settings.tz)
    assert demand.arrivals("2025-11-24") == {17: 2}
    assert 0 < r.ttl(keys.demand_arrivals("2025-11-24")) <= 8 * 24 * 3600
    # And the message carries when it was accepted, on the injected clock (the SLO counts
    # from it)
    queue = f"{keys.dramatiq_namespace}:{Lane.LIVE.queue_name}"
    (raw,) = r.hvals(queue + ".msgs")[:1]
    assert dramatiq.Message.decode(raw.encode()).message_timestamp == 1_764_000_000_000
    broker.close()
