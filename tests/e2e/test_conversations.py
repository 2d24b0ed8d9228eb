"""Conversations through the real stack (signed webhook -> worker -> simulator -> callback), on
Redis and on RabbitMQ: a three-message conversation whose answers use the earlier messages,
an echo loop that ends after one answer, and a hand-off that sticks until released."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from shared.keys import Keys
from shared.models import Outcome, OutcomeStatus
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from shared.stores.threads import ThreadStore
from tests.conftest import REDIS_URL, SimulatorProcess, make_settings
from tests.helpers import (
    CallbackReceiver,
    EchoingHelpdesk,
    WebhookServer,
    generic_ticket,
    sign_generic,
    tkey,
)
from tests.helpers import wait_for as wait
from tests.shared.broker.conftest import broker_settings, kind  # noqa: F401 (fixtures)
from tests.shared.cli.helpers import clean_env, paceline
from workers.runtime import RunningWorker

SECRET = "e2e-conversation-secret-77a1"


@pytest.fixture
def stack(
    namespace: str,
    broker_settings: Callable[..., Settings],  # noqa: F811
    simulator: SimulatorProcess,
) -> Iterator[tuple[Settings, redis.Redis]]:
    settings = broker_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-conversations",
        webhook_secret_generic=SECRET,
        pacing="off",
        metrics_port="0",
    )
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield settings, client
    client.close()


def post(app: WebhookServer, doc: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(doc).encode()
    resp = httpx.post(
        f"{app.url}/webhooks/generic", content=body, headers=sign_generic(SECRET, body)
    )
    assert resp.status_code == 202, resp.text
    result: dict[str, Any] = resp.json()
    return result


def follow_up(n: int, text: str, callback: str, **over: Any) -> dict[str, Any]:
    doc = generic_ticket(n, ticket_id="T-1", event_type="message.created", subject="", body=text)
    doc.update(author={"role": "customer", "id": "u-1"}, callback_url=callback, **over)
    return doc


def outcome_of(store: OutcomeStore, event: str, status: OutcomeStatus | None = None) -> bool:
    o = store.get(tkey("T-1"))
    return (
        o is not None
        and o.event_id == event
        and o.status.is_final
        and (status is None or o.status is status)
    )


def current(store: OutcomeStore) -> Outcome:
    o = store.get(tkey("T-1"))
    assert o is not None
    return o


def test_three_messages_the_agent_answers_with_the_thread(
    stack: tuple[Settings, redis.Redis],
) -> None:
    settings, client = stack
    store = OutcomeStore(client, Keys(settings.namespace))
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2),
    ):
        # Given a ticket the agent answered
        post(app, generic_ticket(1, callback_url=callback.url))
        assert wait(lambda: outcome_of(store, "evt-1", OutcomeStatus.ANSWERED), 30)
        # When the customer writes back twice, each after the last answer
        post(app, follow_up(2, "That did not work, the parcel is still missing.", callback.url))
        assert wait(lambda: outcome_of(store, "evt-2", OutcomeStatus.ANSWERED), 30)
        post(app, follow_up(3, "Can you check the shipping status again?", callback.url))
        assert wait(lambda: outcome_of(store, "evt-3", OutcomeStatus.ANSWERED), 30)
        assert wait(lambda: len(callback.received) >= 3, 5)
        # And a fourth message is past the tenant's three automatic replies: a person takes it
        post(app, follow_up(4, "Still nothing.", callback.url))
        assert wait(lambda: outcome_of(store, "evt-4", OutcomeStatus.ESCALATED), 30)
        assert current(store).reason == "max_auto_replies"
        assert wait(lambda: len(callback.received) >= 4, 5)
        # And the fifth is recorded for that person, not answered
        assert post(app, follow_up(5, "Hello?", callback.url))["handled"] == "human_owned"
    # Then each answer is posted once, and the later ones read the earlier messages
    replies = [c["body"]["reply"] for c in callback.received][:3]
    assert len(callback.received) == 4 and callback.received[3]["body"]["status"] == "escalated"
    assert not replies[0].startswith("Following up")
    assert replies[1].startswith("Following up on our 2 earlier messages")  # msg 1, answer 1
    assert replies[2].startswith("Following up on our 4 earlier messages")
    keys = [c["headers"]["Idempotency-Key"] for c in callback.received]
    assert len(set(keys)) == 4
    # And the thread holds every event and its outcome; the CLI shows it
    conv = ThreadStore(client, Keys(settings.namespace)).load(tkey("T-1"))
    assert [(e["k"], e["e"]) for e in conv.entries] == [
        (k, f"evt-{n}") for n in (1, 2, 3, 4, 5) for k in ("msg", "out")
    ]
    assert conv.replies == 3 and conv.life_micros == sum(
        o for o in (e.get("c", 0) for e in conv.entries)
    )
    assert conv.owner_reason == "max_auto_replies"
    env = clean_env(settings.namespace)
    shown = paceline("outcomes", "show", "T-1", "--thread", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["event_id"] == "evt-5" and doc["conversation"]["auto_replies"] == 3
    kinds = [(e["kind"], e.get("role") or e.get("status")) for e in doc["conversation"]["thread"]]
    assert kinds == [("message", "customer"), ("outcome", "answered")] * 3 + [
        ("message", "customer"),
        ("outcome", "escalated"),
        ("message", "customer"),
        ("outcome", "human_owned"),
    ]


def test_an_echo_loop_ends_after_one_answer(
    stack: tuple[Settings, redis.Redis], private_simulator: SimulatorProcess
) -> None:
    settings, client = stack
    settings = settings.model_copy(update={"llm_base_url": private_simulator.base_url})
    store = OutcomeStore(client, Keys(settings.namespace))
    with WebhookServer(settings) as app, RunningWorker(settings, threads=2):
        with EchoingHelpdesk(f"{app.url}/webhooks/generic", SECRET) as helpdesk:
            # Given a helpdesk that echoes every reply back / When a ticket arrives
            post(app, generic_ticket(1, callback_url=helpdesk.url))
            assert wait(lambda: outcome_of(store, "evt-1", OutcomeStatus.ANSWERED), 30)
            assert wait(lambda: helpdesk.echoed >= 1, 10)
            spent = current(store).cost_micros
            calls = private_simulator.stats()["requests"]
            # Then the echo is acknowledged and dropped: one answer, no new model call
            wait(lambda: False, 2)
    assert helpdesk.answers == [202] and len(helpdesk.received) == 1
    assert private_simulator.stats()["requests"] == calls
    final = current(store)
    assert final.event_id == "evt-1" and final.cost_micros == spent
    conv = ThreadStore(client, Keys(settings.namespace)).load(tkey("T-1"))
    assert [e["e"] for e in conv.entries] == ["evt-1", "evt-1"] and conv.replies == 1


def test_a_hand_off_sticks_until_released(
    stack: tuple[Settings, redis.Redis], private_simulator: SimulatorProcess
) -> None:
    settings, client = stack
    settings = settings.model_copy(update={"llm_base_url": private_simulator.base_url})
    store = OutcomeStore(client, Keys(settings.namespace))
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2),
    ):
        # Given a ticket the agent escalated (the customer asked for a person)
        first = generic_ticket(1, callback_url=callback.url, body="I want to speak to a human.")
        post(app, first)
        assert wait(lambda: outcome_of(store, "evt-1", OutcomeStatus.ESCALATED), 30)
        calls = private_simulator.stats()["requests"]
        # When the customer writes again: Then it is recorded, not answered
        got = post(app, follow_up(2, "Hello? Is anyone there?", callback.url))
        assert got["handled"] == "human_owned"
        assert current(store).status is OutcomeStatus.HUMAN_OWNED
        assert current(store).reason == "escalated"
        assert private_simulator.stats()["requests"] == calls
        # When an operator hands it back: Then the next message is answered
        released = paceline(
            "tickets", "release", "T-1", "--json", env=clean_env(settings.namespace)
        )
        assert released.returncode == 0, released.stderr
        assert json.loads(released.stdout)["released"] is True
        post(app, follow_up(3, "Where is my order now?", callback.url))
        assert wait(lambda: outcome_of(store, "evt-3", OutcomeStatus.ANSWERED), 30)
        assert wait(lambda: len(callback.received) >= 2, 5)
    assert [c["body"]["status"] for c in callback.received] == ["escalated", "answered"]


def test_a_follow_up_past_the_lifetime_spend_goes_to_a_person(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    simulator = private_simulator
    # Given a lifetime cap below what one answer costs
    settings = make_settings(
        namespace,
        llm_base_url=simulator.base_url,
        llm_api_key="sk-conversations",
        webhook_secret_generic=SECRET,
        pacing="off",
        ticket_lifetime_cap_usd="0.000001",
    )
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    store = OutcomeStore(client, Keys(namespace))
    with (
        CallbackReceiver() as callback,
        WebhookServer(settings) as app,
        RunningWorker(settings, threads=2),
    ):
        # When the first message is answered (a new ticket is never held to it)
        post(app, generic_ticket(1, callback_url=callback.url))
        assert wait(lambda: outcome_of(store, "evt-1", OutcomeStatus.ANSWERED), 30)
        calls = simulator.stats()["requests"]
        # Then the follow-up goes to a person with the reason, with no model call
        post(app, follow_up(2, "It did not work.", callback.url))
        assert wait(lambda: outcome_of(store, "evt-2", OutcomeStatus.ESCALATED), 30)
        assert wait(lambda: len(callback.received) >= 2, 5)
    client.close()
    assert current(store).reason == "lifetime_cap" and current(store).cost_micros == 0
    assert simulator.stats()["requests"] == calls
    assert "member of our team" in callback.received[1]["body"]["reply"]


def test_solved_before_the_answer_is_not_answered(
    namespace: str, private_simulator: SimulatorProcess
) -> None:
    settings = make_settings(
        namespace,
        llm_base_url=private_simulator.base_url,
        llm_api_key="sk-conversations",
        webhook_secret_generic=SECRET,
        pacing="off",
    )
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    store = OutcomeStore(client, Keys(namespace))
    with CallbackReceiver() as callback, WebhookServer(settings) as app:
        # Given a ticket, and the vendor marking it solved before any worker took it
        post(app, generic_ticket(1, callback_url=callback.url))
        solved = post(app, generic_ticket(2, ticket_id="T-1", event_type="ticket.solved"))
        assert solved["handled"] == "recorded"
        # When a worker gets to the waiting message
        with RunningWorker(settings, threads=2):
            assert wait(lambda: outcome_of(store, "evt-1"), 30)
    client.close()
    # Then it is not answered: no model call, no reply, a clear outcome
    final = current(store)
    assert final.status is OutcomeStatus.HUMAN_OWNED and final.reason == "ticket_solved"
    assert private_simulator.stats()["requests"] == 0 and callback.received == []
