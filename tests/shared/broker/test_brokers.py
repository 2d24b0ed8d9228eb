"""Broker portability: intake, lanes, parking and namespaces behave alike on Redis and RabbitMQ."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import dramatiq
import httpx
import pytest
import redis

from producers.enqueue import Intake
from shared.broker import build_broker, queue_prefix
from shared.clock import SystemClock, budget_day
from shared.keys import Keys
from shared.messages import queue_for, ticket_message
from shared.models import Lane, OutcomeStatus, Ticket
from shared.settings import Settings
from shared.stores.demand import DemandStore
from shared.stores.outcomes import OutcomeStore
from shared.stores.parking import ParkingLot
from tests.conftest import REDIS_URL, SimulatorProcess, delete_namespace
from tests.helpers import WebhookServer, generic_ticket, sign_generic, tkey, wait_for
from workers.runtime import RunningWorker

SECRET = "broker-webhook-secret-7f3a"


def _intake(settings: Settings, broker: dramatiq.Broker, client: redis.Redis) -> Intake:
    return Intake(
        broker=broker,
        client=client,
        keys=Keys(settings.namespace),
        clock=SystemClock(),
        dedupe_window_s=settings.dedupe_window_s,
        queue_prefix=queue_prefix(settings),
    )


def _waiting(settings: Settings, broker: dramatiq.Broker, client: redis.Redis, lane: Lane) -> int:
    queue = queue_for(lane, queue_prefix(settings))
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:
        return int(counts(queue)[0])
    return int(client.llen(f"{Keys(settings.namespace).dramatiq_namespace}:{queue}"))


def _status(client: redis.Redis, settings: Settings, ticket_id: str) -> OutcomeStatus | None:
    outcome = OutcomeStore(client, Keys(settings.namespace)).get(tkey(ticket_id))
    return None if outcome is None else outcome.status


@pytest.fixture
def env(
    namespace: str, broker_settings: Callable[..., Settings], simulator: SimulatorProcess
) -> Iterator[tuple[Settings, dramatiq.Broker, redis.Redis]]:
    settings = broker_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-b",
        webhook_secret_generic=SECRET,
    )
    broker = build_broker(settings)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield settings, broker, client
    broker.close()
    client.close()


def test_intake_and_webhook_then_a_worker_answers(
    env: tuple[Settings, dramatiq.Broker, redis.Redis],
) -> None:
    settings, broker, client = env
    with WebhookServer(settings) as app, RunningWorker(settings, threads=2):
        # Given one ticket through the enqueue API and one through a signed webhook
        _intake(settings, broker, client).submit(Ticket.model_validate(generic_ticket(1)))
        body = json.dumps(generic_ticket(2)).encode()
        resp = httpx.post(
            f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
        )
        assert resp.status_code == 202, resp.text
        # Then the worker answers both
        assert wait_for(
            lambda: all(
                _status(client, settings, t) is OutcomeStatus.ANSWERED for t in ("T-1", "T-2")
            )
        )


def test_lanes_are_separate_queues(env: tuple[Settings, dramatiq.Broker, redis.Redis]) -> None:
    settings, broker, client = env
    intake = _intake(settings, broker, client)
    # Given a live ticket and a replay ticket, no worker yet
    intake.submit(Ticket.model_validate(generic_ticket("live")), Lane.LIVE)
    intake.submit(Ticket.model_validate(generic_ticket("old")), Lane.REPLAY)
    # Then each waits on its own lane's queue
    assert _waiting(settings, broker, client, Lane.LIVE) == 1
    assert _waiting(settings, broker, client, Lane.REPLAY) == 1
    # And only the live one counts as live demand (the forecast's input), on either broker
    demand = DemandStore(client, Keys(settings.namespace), settings.tz)
    assert sum(demand.arrivals(budget_day(time.time(), settings.tz)).values()) == 1
    # When a worker serves only the live lane
    with RunningWorker(settings, threads=1, lanes=[Lane.LIVE]):
        assert wait_for(lambda: _status(client, settings, "T-live") is OutcomeStatus.ANSWERED)
        time.sleep(0.3)
        # Then the replay ticket is untouched, still queued
        assert _status(client, settings, "T-old") is OutcomeStatus.PENDING
    assert _waiting(settings, broker, client, Lane.REPLAY) == 1


def test_parked_ticket_is_released_and_answered(
    env: tuple[Settings, dramatiq.Broker, redis.Redis],
) -> None:
    settings, broker, client = env
    keys = Keys(settings.namespace)
    lot = ParkingLot(client, keys)
    # Given a ticket parked until now, its message on the (namespaced) live queue
    ticket = Ticket.model_validate(generic_ticket("p"))
    message = ticket_message(
        ticket, Lane.LIVE, queue_name=queue_for(Lane.LIVE, queue_prefix(settings))
    )
    now_ms = int(time.time() * 1000)
    lot.park(message, Lane.LIVE, now_ms, "pace")
    with RunningWorker(settings, threads=1):
        # When the release runs (as the scheduler does) through this broker
        released = lot.release_due(now_ms + 1, broker.enqueue)
        assert released == {"live": 1}
        # Then the worker answers it and the lot is empty
        assert wait_for(lambda: _status(client, settings, "T-p") is OutcomeStatus.ANSWERED)
    assert lot.size() == 0


def test_namespaces_do_not_see_each_other(
    env: tuple[Settings, dramatiq.Broker, redis.Redis],
    broker_settings: Callable[..., Settings],
    simulator: SimulatorProcess,
) -> None:
    settings, broker, client = env
    other_ns = f"{settings.namespace}-b{uuid.uuid4().hex[:4]}"
    other = broker_settings(other_ns, llm_base_url=simulator.base_url, llm_api_key="sk-b")
    try:
        # Given a ticket enqueued in namespace A, and a worker of namespace B
        _intake(settings, broker, client).submit(Ticket.model_validate(generic_ticket("ns")))
        with RunningWorker(other, threads=1):
            time.sleep(0.8)
            # Then B never took it: still pending in A, nothing in B
            assert _status(client, settings, "T-ns") is OutcomeStatus.PENDING
            assert _status(client, other, "T-ns") is None
        # When A's own worker runs, it answers
        with RunningWorker(settings, threads=1):
            assert wait_for(lambda: _status(client, settings, "T-ns") is OutcomeStatus.ANSWERED)
    finally:
        delete_namespace(client, other_ns)
