"""The webhook routes' answers: 404, 413, 422, handshakes, health, and 503 when Redis is down."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.keys import Keys
from tests.conftest import free_port, make_settings
from tests.producers.webhook.conftest import NOW_S, pending_tickets, queue_len
from tests.producers.webhook.vendor_cases import encode, payload, secret_env, signed_headers


def test_unknown_source_is_404(client: TestClient) -> None:
    # Given a path naming no source / When posted / Then 404
    assert client.post("/webhooks/nosuch", content=b"{}").status_code == 404


def test_source_without_secret_is_refused_even_when_signed(namespace: str, r: redis.Redis) -> None:
    # Given Zendesk has no secret configured (only the generic one is)
    settings = make_settings(namespace, webhook_secret_generic="generic-only-secret-0001")
    body = encode(payload("zendesk"))
    with TestClient(create_app(settings, redis_client=r)) as client:
        # When a Zendesk delivery arrives, signed with any key
        resp = client.post(
            "/webhooks/zendesk", content=body, headers=signed_headers("zendesk", body, NOW_S)
        )
    # Then it is refused as a disabled source, never accepted unsigned
    assert resp.status_code == 404
    assert pending_tickets(r, Keys(namespace)) == 0


def test_declared_oversize_body_is_413(
    client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given a body larger than max_body_bytes (256 KiB by default), correctly signed
    body = encode({**payload("generic"), "body": "x" * 300_000})
    # When posted with its Content-Length / Then 413 and nothing queued
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    assert resp.status_code == 413
    assert queue_len(broker, keys) == 0


def test_streamed_oversize_body_without_length_is_413(
    client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given a chunked upload (no Content-Length) that keeps going past the limit
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 8192

    # When streamed / Then the counter stops it
    resp = client.post("/webhooks/generic", content=chunks(), headers={"X-Paceline-Timestamp": "1"})
    assert resp.status_code == 413
    assert queue_len(broker, keys) == 0


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            {"event_id": "e", "ticket_id": "T 1", "tenant_id": "a", "requester": {"id": "u"}},
            "ticket_id",
        ),
        ({"event_id": "e", "ticket_id": "T", "tenant_id": "a"}, "requester"),
        (
            {
                "event_id": "e",
                "ticket_id": "T",
                "tenant_id": "a",
                "requester": {"id": "u"},
                "priority": "SECRET-42",
            },
            "priority",
        ),
        ([1, 2, 3], "object"),
    ],
)
def test_verified_non_ticket_is_422_without_echoing_the_body(
    doc: object, field: str, client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given a correctly signed generic body that is not a valid ticket
    body = json.dumps(doc).encode()
    # When posted
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    # Then 422 with a short reason naming the field, never the value sent
    assert resp.status_code == 422
    assert field in resp.json()["reason"]
    assert "SECRET-42" not in resp.text and "T 1" not in resp.text
    assert queue_len(broker, keys) == 0


def test_signed_garbage_is_422(client: TestClient) -> None:
    # Given signed bytes that are not JSON / Then 422 "body is not JSON"
    body = b"\xff\xfe not json"
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    assert resp.status_code == 422
    assert resp.json()["reason"] == "body is not JSON"


def test_handshakes_are_answered_without_enqueuing(
    client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given each vendor's set-up handshake, signed
    ping = encode({"type": "notification_event", "topic": "ping", "id": "notif_ping", "data": {}})
    resp = client.post(
        "/webhooks/intercom", content=ping, headers=signed_headers("intercom", ping, NOW_S)
    )
    assert resp.status_code == 200 and resp.json()["topic"] == "ping"
    front_body = b"{}"
    headers = {**signed_headers("front", front_body, NOW_S), "X-Front-Challenge": "abc123"}
    resp = client.post("/webhooks/front", content=front_body, headers=headers)
    assert resp.status_code == 200 and resp.json() == {"challenge": "abc123"}
    test_body = b"{}"
    headers = {
        **signed_headers("helpscout", test_body, NOW_S),
        "X-HelpScout-Event": "helpscout.test",
    }
    assert client.post("/webhooks/helpscout", content=test_body, headers=headers).status_code == 200
    # Then nothing was queued
    assert queue_len(broker, keys) == 0
    assert pending_tickets(r, keys) == 0


def test_unsigned_front_challenge_is_refused(client: TestClient) -> None:
    # Given a challenge without a signature / Then 401 (the handshake is verified too)
    resp = client.post("/webhooks/front", content=b"{}", headers={"X-Front-Challenge": "abc"})
    assert resp.status_code == 401


def test_duplicate_delivery_returns_the_first_job(
    client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given one Jira delivery posted twice (Jira retries carry the same identifier)
    body = encode(payload("jira"))
    headers = signed_headers("jira", body, NOW_S)
    first = client.post("/webhooks/jira", content=body, headers=headers).json()
    second = client.post("/webhooks/jira", content=body, headers=headers).json()
    # Then the second is a duplicate of the first job and one message is queued
    assert first["duplicate"] is False and second == {"job_id": first["job_id"], "duplicate": True}
    assert queue_len(broker, keys) == 1


def test_health_and_readiness(client: TestClient) -> None:
    # Given Redis and the broker are up / Then both probes are 200
    assert client.get("/healthz").json() == {"ok": True}
    assert client.get("/readyz").status_code == 200


def test_redis_down_answers_503_and_readyz_fails(namespace: str) -> None:
    # Given an app whose Redis and broker point at a port where nothing listens
    dead_url = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(namespace, redis_url=dead_url, **secret_env())
    dead = redis.Redis.from_url(dead_url, socket_connect_timeout=0.5)
    dead_broker = build_broker(settings)
    app = create_app(settings, clock=ManualClock(NOW_S), broker=dead_broker, redis_client=dead)
    body = encode(payload("generic"))
    with TestClient(app) as client:
        # When a valid delivery arrives
        resp = client.post(
            "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
        )
        # Then 503 with Retry-After, so the vendor keeps it; the process itself is healthy
        assert resp.status_code == 503
        assert int(resp.headers["retry-after"]) > 0
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json() == {"ok": False, "unreachable": ["redis", "broker"]}
    dead.close()
    dead_broker.close()


def test_after_an_outage_the_retry_is_accepted(
    namespace: str, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given a delivery refused with 503 while the broker was unreachable
    settings = make_settings(namespace, **secret_env())
    dead_broker = build_broker(
        make_settings(namespace, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    body = encode(payload("generic"))
    headers = signed_headers("generic", body, NOW_S)
    with TestClient(
        create_app(settings, clock=ManualClock(NOW_S), broker=dead_broker, redis_client=r)
    ) as c:
        assert c.post("/webhooks/generic", content=body, headers=headers).status_code == 503
    dead_broker.close()
    # When the vendor retries once the broker is back
    with TestClient(
        create_app(settings, clock=ManualClock(NOW_S), broker=broker, redis_client=r)
    ) as c:
        resp = c.post("/webhooks/generic", content=body, headers=headers)
    # Then it is accepted as new (the failed attempt gave its dedupe claim back)
    assert resp.status_code == 202 and resp.json()["duplicate"] is False
    assert queue_len(broker, keys) == 1


@pytest.mark.parametrize("stamp", ["\u00b2", "\u0663", "1e9", "-5", "", " ", "9" * 40])
def test_odd_timestamps_are_refused_not_crashed(stamp: str) -> None:
    # Given a generic delivery whose timestamp header is not plain ASCII digits (latin-1 "²"
    # and Arabic-Indic digits count as digits for str.isdigit, but float() refuses them)
    from shared.errors import SignatureError
    from shared.vendors.base import Inbound
    from shared.vendors.generic import GenericSource

    body = encode(payload("generic"))
    headers = {k.lower(): v for k, v in signed_headers("generic", body, NOW_S).items()}
    headers["x-paceline-timestamp"] = stamp
    # When verified / Then a SignatureError (401), never another exception (500)
    with pytest.raises(SignatureError):
        GenericSource().verify(Inbound(body, headers, NOW_S, 300, "t"), b"gen-secret-1")
