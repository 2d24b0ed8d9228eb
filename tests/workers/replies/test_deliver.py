"""Replies back, against a real local HTTP stand-in: once per ticket event, vendor shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from shared.errors import OutboundRefused, PermanentError, TransientError
from shared.keys import Keys
from shared.models import Requester, Ticket
from shared.outbound import OutboundClient
from shared.settings import Settings
from tests.conftest import make_settings
from tests.workers.replies.standin import StandIn, standin_server
from workers.replies.deliver import deliver_reply

OUTCOME = {"ticket_id": "T-1", "status": "answered", "reply": "Your refund is on its way."}


def ticket(source: str = "generic", ticket_id: str = "T-1", **extra: Any) -> Ticket:
    return Ticket(
        event_id="evt-1",
        ticket_id=ticket_id,
        tenant_id="acme",
        requester=Requester(id="u-1"),
        source=source,
        **extra,
    )


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with standin_server() as server:
        yield server


@pytest.fixture
def http() -> Iterator[OutboundClient]:
    # The stand-ins listen on loopback: allowed here, refused in the guard's own tests.
    client = OutboundClient(allow_private=True)
    yield client
    client.close()


def send(
    t: Ticket,
    s: Settings,
    r: redis.Redis,
    keys: Keys,
    http: OutboundClient,
    doc: dict[str, Any] = OUTCOME,
) -> str:
    return deliver_reply(t, doc, settings=s, redis_client=r, keys=keys, http=http)


def test_callback_is_posted_once_with_the_idempotency_key(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a generic ticket with a callback URL
    t = ticket(callback_url=f"{standin.url}/replies")
    # When its reply is delivered, then the ticket is redelivered and delivered again
    first = send(t, settings, r, keys, http)
    second = send(t, settings, r, keys, http)
    # Then one POST carried the outcome JSON and the ticket's idempotency key
    assert (first, second) == ("sent", "already_sent")
    assert len(standin.requests) == 1
    req = standin.requests[0]
    assert (req.method, req.path) == ("POST", "/replies")
    assert req.headers["idempotency-key"] == t.idempotency_key == "4:acme:7:generic:3:T-1:5:evt-1"
    # (with the visibility the receiver posts it by: internal, as no tenant asked otherwise)
    assert json.loads(req.body) == {**OUTCOME, "visibility": "internal"}


def test_failed_callback_is_transient_and_retried_with_the_same_key(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a receiver that answers 503 first
    t = ticket(callback_url=f"{standin.url}/replies")
    standin.status = 503
    with pytest.raises(TransientError):
        send(t, settings, r, keys, http)
    # When it recovers and the worker retries
    standin.status = 200
    assert send(t, settings, r, keys, http) == "sent"
    # Then both attempts carried the same key (the receiver can drop a repeat)
    assert [q.headers["idempotency-key"] for q in standin.requests] == [t.idempotency_key] * 2


def test_refused_callback_is_permanent(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a receiver that answers 400 / Then the error is permanent (no retry loop)
    standin.status = 400
    with pytest.raises(PermanentError):
        send(ticket(callback_url=f"{standin.url}/replies"), settings, r, keys, http)


def test_unreachable_callback_is_transient(
    settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a callback to a closed port / Then transient, and the claim is released
    from tests.conftest import free_port

    t = ticket(callback_url=f"http://127.0.0.1:{free_port()}/x")
    with pytest.raises(TransientError):
        send(t, settings, r, keys, http)
    assert r.get(keys.callback(t.idempotency_key)) is None


def test_a_live_claim_makes_a_second_sender_wait(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given another worker is mid-POST for this ticket event
    t = ticket(callback_url=f"{standin.url}/replies")
    r.set(keys.callback(t.idempotency_key), "sending:other", ex=30)
    # When this worker tries / Then it is told to retry later, and posts nothing
    with pytest.raises(TransientError):
        send(t, settings, r, keys, http)
    assert standin.requests == []


def test_unconfigured_vendor_is_skipped(
    settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given no vendor tokens configured and no callback / Then "skipped"
    for source in ("zendesk", "intercom", "front", "helpscout", "jira", "freshdesk", "generic"):
        assert send(ticket(source, "x-1"), settings, r, keys, http) == "skipped"


VENDOR_CASES = [
    # source, ticket id, extra settings, method, path, (json key, expected value)
    (
        "zendesk",
        "zd-123",
        {"zendesk_api_token": "tok", "zendesk_api_email": "bot@example.com"},
        "PUT",
        "/api/v2/tickets/123.json",
        ("ticket", {"comment": {"body": OUTCOME["reply"], "public": False}}),
    ),
    (
        "intercom",
        "ic-55",
        {"intercom_api_token": "tok", "intercom_admin_id": "9"},
        "POST",
        "/conversations/55/reply",
        ("message_type", "note"),
    ),
    (
        "front",
        "front-cnv_7",
        {"front_api_token": "tok"},
        "POST",
        "/conversations/cnv_7/comments",
        ("body", OUTCOME["reply"]),
    ),
    (
        "helpscout",
        "hs-301",
        {"helpscout_api_token": "tok"},
        "POST",
        "/v2/conversations/301/notes",
        ("text", OUTCOME["reply"]),
    ),
    (
        "jira",
        "jira-SUP-1",
        {"jira_api_token": "tok"},
        "POST",
        "/rest/api/2/issue/SUP-1/comment",
        ("body", OUTCOME["reply"]),
    ),
    (
        "freshdesk",
        "fd-401",
        {"freshdesk_api_key": "key"},
        "POST",
        "/api/v2/tickets/401/notes",
        ("private", True),
    ),
]


@pytest.mark.parametrize(("source", "ticket_id", "extra", "method", "path", "field"), VENDOR_CASES)
def test_vendor_note_is_posted_once(
    source: str,
    ticket_id: str,
    extra: dict[str, str],
    method: str,
    path: str,
    field: tuple[str, Any],
    standin: StandIn,
    namespace: str,
    r: redis.Redis,
    keys: Keys,
    http: OutboundClient,
) -> None:
    # Given the vendor configured against the stand-in
    s = make_settings(namespace, **{f"{source}_api_url": standin.url, **extra})
    t = ticket(source, ticket_id)
    # When the reply is delivered twice (a redelivered ticket)
    assert send(t, s, r, keys, http) == "sent"
    assert send(t, s, r, keys, http) == "already_sent"
    # Then one internal note reached the vendor's API, authenticated and keyed
    assert len(standin.requests) == 1
    req = standin.requests[0]
    assert (req.method, req.path) == (method, path)
    assert req.headers["authorization"].split()[0] in ("Basic", "Bearer")
    assert req.headers["idempotency-key"] == t.idempotency_key
    key, value = field
    assert json.loads(req.body)[key] == value


def test_vendor_without_reply_text_is_skipped(
    standin: StandIn, namespace: str, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a configured vendor but an outcome with no reply (e.g. dead-lettered)
    s = make_settings(namespace, front_api_url=standin.url, front_api_token="tok")
    # Then nothing is posted
    assert (
        send(ticket("front", "front-cnv_1"), s, r, keys, http, {"status": "dead_lettered"})
        == "skipped"
    )
    assert standin.requests == []


def test_a_claim_left_by_a_killed_sender_delays_the_reply_but_does_not_lose_it(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys
) -> None:
    from shared.models import Lane, Outcome, OutcomeStatus
    from workers.worker_context import WorkerContext

    # Given a worker killed between claiming the reply and POSTing it: its claim lives on
    t = ticket(callback_url=f"{standin.url}/replies")
    r.set(keys.callback(t.idempotency_key), "sending:dead-worker", ex=2)
    ctx = WorkerContext.build(settings, with_agent=False)
    outcome = Outcome.for_ticket(t, Lane.LIVE, OutcomeStatus.ANSWERED, job_id="j-1")
    try:
        # When the redelivered ticket, answered again, delivers its reply
        ctx.replies.send(t, outcome)
    finally:
        ctx.close()
    # Then it waited out the dead claim and the reply went out once, with the ticket's key
    assert "reply_delivery_failed" not in (outcome.reason or "")
    assert len(standin.requests) == 1
    assert standin.requests[0].headers["idempotency-key"] == t.idempotency_key
    assert r.get(keys.callback(t.idempotency_key)) == "sent"


def test_a_receiver_that_stays_down_costs_two_attempts_and_the_answer_is_kept(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys
) -> None:
    from shared.clock import ManualClock
    from shared.models import Lane, Outcome, OutcomeStatus
    from workers.worker_context import WorkerContext

    # Given a callback receiver that answers 503 to everything
    standin.status = 503
    t = ticket(callback_url=f"{standin.url}/replies")
    clock = ManualClock()
    ctx = WorkerContext.build(settings, with_agent=False, clock=clock)
    outcome = Outcome.for_ticket(t, Lane.LIVE, OutcomeStatus.ANSWERED, job_id="j-1")
    started = clock.now_s()
    try:
        # When the answered ticket delivers its reply
        ctx.replies.send(t, outcome)
    finally:
        ctx.close()
    # Then it tried twice, a second apart, and kept the answer with the reason
    assert len(standin.requests) == 2
    assert clock.now_s() - started == pytest.approx(1.0)
    assert outcome.reason.endswith("reply_delivery_failed")
    # And no claim is left behind for a later redelivery to wait on
    assert r.get(keys.callback(t.idempotency_key)) is None


def test_ids_holding_the_separator_get_a_reply_each(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given ticket "a" with event "b:c" and ticket "a:b" with event "c" (once "generic:a:b:c")
    url = f"{standin.url}/replies"
    one = Ticket(event_id="b:c", ticket_id="a", tenant_id="acme", requester=Requester(id="u"),
                 callback_url=url)  # fmt: skip
    two = one.model_copy(update={"ticket_id": "a:b", "event_id": "c"})
    # When both replies are delivered / Then both are sent, with different keys
    assert send(one, settings, r, keys, http) == "sent"
    assert send(two, settings, r, keys, http) == "sent"
    assert len({q.headers["idempotency-key"] for q in standin.requests}) == 2


def test_two_tenants_sharing_ids_get_a_reply_each(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given the same ticket and event id in two tenants / Then each gets its reply
    t = ticket(callback_url=f"{standin.url}/replies")
    other = t.model_copy(update={"tenant_id": "globex"})
    assert send(t, settings, r, keys, http) == send(other, settings, r, keys, http) == "sent"
    assert len(standin.requests) == 2


def test_an_id_of_any_characters_goes_in_an_ascii_header(
    standin: StandIn, settings: Settings, r: redis.Redis, keys: Keys, http: OutboundClient
) -> None:
    # Given a ticket id with non-ASCII characters / Then the reply goes, its key encoded
    t = ticket(ticket_id="Bestellung-\u00fc-7", callback_url=f"{standin.url}/replies")
    assert send(t, settings, r, keys, http) == "sent"
    assert standin.requests[0].headers["idempotency-key"].isascii()


@pytest.mark.parametrize(
    ("source", "ticket_id", "setting"),
    [
        ("intercom", "ic-..", "intercom_api_url"),
        ("zendesk", "zd-..%2Fusers", "zendesk_api_url"),
        ("helpscout", "hs-..%2f", "helpscout_api_url"),
        ("front", "front-..", "front_api_url"),
        ("jira", "jira-..", "jira_api_url"),
        ("freshdesk", "fd-.", "freshdesk_api_url"),
    ],
)
def test_a_vendor_id_out_of_format_never_reaches_a_url(
    standin: StandIn,
    namespace: str,
    r: redis.Redis,
    keys: Keys,
    http: OutboundClient,
    source: str,
    ticket_id: str,
    setting: str,
) -> None:
    # Given the vendor's API configured (a stand-in) and a ticket whose id is a path trick
    creds = {
        "intercom_api_token": "ic-token-0123456789", "intercom_admin_id": "7",
        "zendesk_api_token": "zd-token-0123456789", "helpscout_api_token": "hs-token-0123456789",
        "front_api_token": "fr-token-0123456789", "jira_api_token": "jr-token-0123456789",
        "freshdesk_api_key": "fd-key-0123456789",
    }  # fmt: skip
    s = make_settings(namespace, **{setting: standin.url}, **creds)
    # When its reply is delivered / Then it is refused before any request, for good
    with pytest.raises(PermanentError) as err:
        send(ticket(source, ticket_id), s, r, keys, http, {**OUTCOME, "reply": "hello"})
    assert err.value.reason == "invalid_vendor_id"
    assert standin.requests == []
    assert r.get(keys.callback(ticket(source, ticket_id).idempotency_key)) is None


def test_a_callback_to_a_private_address_is_refused_at_send_time(
    standin: StandIn, namespace: str, r: redis.Redis, keys: Keys
) -> None:
    # Given a ticket that reached the worker with a loopback callback (a replay file, an old
    # message: not through the webhook's check), and private networks not allowed
    s = make_settings(namespace, allow_private_networks="false")
    strict = OutboundClient(allow_private=s.allow_private_networks)
    t = ticket(callback_url=f"{standin.url}/replies")
    try:
        # When its reply is delivered / Then it is refused for good, and nothing is posted
        with pytest.raises(OutboundRefused) as err:
            send(t, s, r, keys, strict)
    finally:
        strict.close()
    assert err.value.reason == "outbound_refused"
    assert standin.requests == []
    assert r.get(keys.callback(t.idempotency_key)) is None
