"""Conversation events through the real webhook app on the real Redis (and RabbitMQ): what is
queued to be answered, what is recorded, what is dropped, and the bounded thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.keys import Keys
from shared.models import OutcomeStatus
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from shared.stores.threads import ThreadStore
from tests.helpers import generic_ticket, sign_generic, tkey
from tests.shared.broker.conftest import broker_settings, kind  # noqa: F401 (fixtures)

SECRET = "conversation-secret-0123456789"
NOW_S = 1_795_000_000.0


@pytest.fixture
def hook(
    namespace: str,
    broker_settings: Callable[..., Settings],  # noqa: F811
    r: redis.Redis,
) -> Iterator[tuple[TestClient, dramatiq.Broker, Settings]]:
    settings = broker_settings(
        namespace, webhook_secret_generic=SECRET, thread_max_messages="6", metrics_port="0"
    )
    broker = build_broker(settings)
    app = create_app(settings, clock=ManualClock(NOW_S), broker=broker, redis_client=r)
    with TestClient(app) as client:
        yield client, broker, settings
    broker.close()


def post(client: TestClient, doc: dict[str, Any]) -> Any:
    body = json.dumps(doc).encode()
    return client.post(
        "/webhooks/generic", content=body, headers=sign_generic(SECRET, body, int(NOW_S))
    )


def message(n: int, ticket: str = "T-1", role: str = "customer", **over: Any) -> dict[str, Any]:
    doc = generic_ticket(n, ticket_id=ticket, event_type="message.created", subject="")
    doc.update(author={"role": role, "id": f"{role}-1"}, body=f"message {n} from the {role}")
    doc.update(over)
    return doc


def queued(broker: dramatiq.Broker, settings: Settings) -> int:
    """Messages waiting on the live lane, asked of the broker itself."""
    from shared.broker import queue_prefix

    prefix = queue_prefix(settings)
    name = f"{prefix}.tickets_live" if prefix else "tickets_live"
    if hasattr(broker, "client"):
        return int(broker.client.llen(f"{Keys(settings.namespace).dramatiq_namespace}:{name}"))
    return int(broker.get_queue_message_counts(name)[0])


def test_old_payload_is_a_created_event_by_its_customer(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis, keys: Keys
) -> None:
    client, broker, settings = hook
    # Given today's payload, with no event_type or author / When it is posted
    resp = post(client, generic_ticket(1))
    # Then it is queued as before, and the thread holds its first message
    assert resp.status_code == 202 and resp.json()["job_id"], resp.text
    assert "handled" not in resp.json()
    conv = ThreadStore(r, keys).load(tkey("T-1"))
    assert [(e["k"], e["t"], e["r"]) for e in conv.entries] == [
        ("msg", "ticket.created", "customer")
    ]
    assert queued(broker, settings) == 1


def test_follow_up_is_queued_and_a_human_reply_makes_later_messages_recorded(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis, keys: Keys
) -> None:
    client, broker, settings = hook
    store = OutcomeStore(r, keys)
    post(client, generic_ticket(1))
    # When the customer writes again: Then the follow-up is queued to be answered
    assert "handled" not in post(client, message(2)).json()
    assert queued(broker, settings) == 2
    # When a person on the team replies: Then it is recorded, and the ticket is theirs
    resp = post(client, message(3, role="agent"))
    assert resp.status_code == 202 and resp.json()["handled"] == "recorded"
    owned = store.get(tkey("T-1"))
    assert owned is not None and owned.status is OutcomeStatus.HUMAN_OWNED
    assert owned.reason == "human_replied"
    # When the customer writes once more: Then it is recorded, not queued
    resp = post(client, message(4))
    assert resp.json()["handled"] == "human_owned"
    assert queued(broker, settings) == 2
    latest = store.get(tkey("T-1"))
    assert latest is not None and latest.event_id == "evt-4"
    assert latest.status is OutcomeStatus.HUMAN_OWNED and latest.reason == "human_replied"
    conv = ThreadStore(r, keys).load(tkey("T-1"))
    assert [(e["k"], e["e"]) for e in conv.entries] == [
        ("msg", "evt-1"),
        ("msg", "evt-2"),
        ("msg", "evt-3"),
        ("msg", "evt-4"),
        ("out", "evt-4"),
    ]
    assert conv.entries[-1]["s"] == "human_owned" and conv.entries[-1]["why"] == "human_replied"
    assert store.summary()["human_owned"] == 1 and store.summary()["total"] == 1


def test_own_replies_coming_back_are_acknowledged_and_dropped(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis, keys: Keys
) -> None:
    client, broker, settings = hook
    post(client, generic_ticket(1))
    before = r.lrange(keys.thread(tkey("T-1")), 0, -1)
    # When paceline's own bot reply comes back, and an event carrying its reply's key
    by_author = post(client, message(2, role="bot", author={"role": "bot", "id": "paceline"}))
    our_key = "4:acme:7:generic:3:T-1:5:evt-1"
    by_key = post(client, message(3, role="agent", idempotency_key=our_key))
    # Then both are acknowledged, nothing is written and nothing is queued
    for resp in (by_author, by_key):
        assert resp.status_code == 202 and resp.json()["handled"] == "dropped", resp.text
    assert r.lrange(keys.thread(tkey("T-1")), 0, -1) == before
    assert queued(broker, settings) == 1
    # And another bot's message (not paceline's) is recorded, never answered
    other = post(client, message(4, role="bot"))
    assert other.json()["handled"] == "recorded"
    assert queued(broker, settings) == 1


def test_key_of_another_tickets_reply_is_not_our_own(
    hook: tuple[TestClient, dramatiq.Broker, Settings],
) -> None:
    client, broker, settings = hook
    # A marker naming another ticket's reply does not make this customer's message ours
    resp = post(client, message(1, ticket="T-9", idempotency_key="4:acme:7:generic:3:T-1:5:evt-1"))
    assert "handled" not in resp.json()
    assert queued(broker, settings) == 1


def test_out_of_order_duplicates_and_unknown_tickets(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis, keys: Keys
) -> None:
    client, broker, settings = hook
    store = OutcomeStore(r, keys)
    # A reply on a ticket never seen: answered as a conversation's first message, no crash
    first = post(client, message(1, ticket="T-2"))
    assert first.status_code == 202 and "handled" not in first.json()
    # Solved before any answer: recorded; the ticket's phase says so
    solved = post(client, generic_ticket(2, ticket_id="T-2", event_type="ticket.solved"))
    assert solved.json()["handled"] == "recorded"
    # The same delivery twice: one job, one thread entry
    again = post(client, message(1, ticket="T-2"))
    assert again.json()["duplicate"] is True and again.json()["job_id"] == first.json()["job_id"]
    conv = ThreadStore(r, keys).load(tkey("T-2"))
    assert [e["e"] for e in conv.entries] == ["evt-1", "evt-2"] and conv.phase == "solved"
    # The ticket keeps its pending state for the queued event (nothing lost)
    pending = store.get(tkey("T-2"))
    assert pending is not None and pending.status is OutcomeStatus.PENDING
    assert queued(broker, settings) == 1


def test_thread_is_bounded_and_counts_what_was_cut(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis, keys: Keys
) -> None:
    client, _broker, _settings = hook
    # Given a bound of 6 entries / When nine messages arrive
    for n in range(1, 10):
        assert post(client, message(n)).status_code == 202
    # Then the last six are kept, and the cut three are counted
    conv = ThreadStore(r, keys).load(tkey("T-1"))
    assert [e["e"] for e in conv.entries] == [f"evt-{n}" for n in range(4, 10)]
    assert conv.cut == 3


@pytest.mark.parametrize(
    "over",
    [
        {"event_type": "ticket.reopened"},
        {"author": {"role": "admin", "id": "x"}},
        {"author": "customer"},
        {"event_type": "ticket.created", "requester": None},
    ],
)
def test_malformed_events_are_422(
    hook: tuple[TestClient, dramatiq.Broker, Settings], over: dict[str, Any]
) -> None:
    client, _broker, _settings = hook
    doc = {**generic_ticket(1), **over}
    resp = post(client, doc)
    assert resp.status_code == 422, resp.text


def test_intake_says_which_event_opened_the_thread(
    hook: tuple[TestClient, dramatiq.Broker, Settings], r: redis.Redis
) -> None:
    from producers.enqueue import build_intake
    from shared.models import Lane, Ticket

    _client, broker, settings = hook
    intake = build_intake(settings, broker, r, ManualClock(NOW_S))
    # A conversation's first message opens its thread (a reply on an unknown ticket too);
    # later events do not: only those are the customer "coming back" (the hooks' view)
    first = intake.submit(Ticket.model_validate(message(1, ticket="T-5")), Lane.LIVE)
    later = intake.submit(Ticket.model_validate(message(2, ticket="T-5")), Lane.LIVE)
    human = intake.submit(Ticket.model_validate(message(3, ticket="T-6", role="agent")), Lane.LIVE)
    assert (first.opened, later.opened, human.opened) == (True, False, True)
    assert human.handled == "recorded"
