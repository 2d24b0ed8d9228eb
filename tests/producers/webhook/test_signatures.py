"""Every source with real signatures: valid is accepted; any forgery is 401 and enqueues nothing."""

from __future__ import annotations

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from shared.keys import Keys
from tests.producers.webhook.conftest import NOW_S, pending_tickets, queue_len
from tests.producers.webhook.vendor_cases import (
    ALL_SOURCES,
    PROOF_HEADER,
    TIMESTAMPED,
    encode,
    payload,
    signed_headers,
)


def assert_nothing_enqueued(broker: dramatiq.Broker, keys: Keys, r: redis.Redis) -> None:
    assert queue_len(broker, keys) == 0
    assert pending_tickets(r, keys) == 0


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_valid_signature_is_accepted_and_enqueued(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given a delivery signed the way the vendor signs it
    body = encode(payload(source))
    # When it is posted
    resp = client.post(
        f"/webhooks/{source}", content=body, headers=signed_headers(source, body, NOW_S)
    )
    # Then it is accepted, queued once, and its ticket is pending
    assert resp.status_code == 202, resp.text
    assert resp.json()["duplicate"] is False
    assert queue_len(broker, keys) == 1
    assert pending_tickets(r, keys) == 1


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_any_tampered_body_byte_is_refused(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given valid headers for a body
    body = encode(payload(source))
    headers = signed_headers(source, body, NOW_S)
    # When any one byte of the body is changed (a spread of positions, every byte is costly)
    for pos in sorted({0, 1, len(body) // 3, len(body) // 2, len(body) - 2, len(body) - 1}):
        tampered = bytearray(body)
        tampered[pos] ^= 0x01
        resp = client.post(f"/webhooks/{source}", content=bytes(tampered), headers=headers)
        # Then each is refused -- except Freshdesk, whose shared-secret header signs nothing
        if source == "freshdesk":
            continue
        assert resp.status_code == 401, (pos, resp.text)
    if source != "freshdesk":
        assert_nothing_enqueued(broker, keys, r)


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_tampered_signature_header_is_refused(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given valid headers whose proof has one character changed
    body = encode(payload(source))
    headers = signed_headers(source, body, NOW_S)
    proof = headers[PROOF_HEADER[source]]
    flipped = proof[:-2] + ("A" if proof[-2] != "A" else "B") + proof[-1]
    headers[PROOF_HEADER[source]] = flipped
    # When posted / Then refused, nothing queued
    assert client.post(f"/webhooks/{source}", content=body, headers=headers).status_code == 401
    assert_nothing_enqueued(broker, keys, r)


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_wrong_secret_is_refused(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given a body signed with someone else's secret
    body = encode(payload(source))
    headers = signed_headers(source, body, NOW_S, secret="not-the-secret")
    # When posted / Then refused
    assert client.post(f"/webhooks/{source}", content=body, headers=headers).status_code == 401
    assert_nothing_enqueued(broker, keys, r)


@pytest.mark.parametrize("source", ALL_SOURCES)
def test_missing_signature_header_is_refused(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given valid headers without the proof header
    body = encode(payload(source))
    headers = signed_headers(source, body, NOW_S)
    del headers[PROOF_HEADER[source]]
    # When posted / Then refused
    assert client.post(f"/webhooks/{source}", content=body, headers=headers).status_code == 401
    assert_nothing_enqueued(broker, keys, r)


@pytest.mark.parametrize("source", TIMESTAMPED)
@pytest.mark.parametrize("skew_s", [-301.0, 301.0, -3600.0, 86_400.0])
def test_stale_or_future_timestamp_is_refused(
    source: str,
    skew_s: float,
    client: TestClient,
    broker: dramatiq.Broker,
    keys: Keys,
    r: redis.Redis,
) -> None:
    # Given a correctly signed delivery whose timestamp is outside the 5-minute window
    body = encode(payload(source))
    headers = signed_headers(source, body, NOW_S + skew_s)
    # When posted / Then refused although the signature itself is right
    resp = client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert resp.status_code == 401
    assert "timestamp" in resp.json()["reason"]
    assert_nothing_enqueued(broker, keys, r)


@pytest.mark.parametrize("source", TIMESTAMPED)
def test_timestamp_inside_the_window_is_accepted(
    source: str, client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given deliveries signed 299 s in the past and in the future (clock drift both ways)
    for n, skew_s in ((1, -299.0), (2, 299.0)):
        body = encode(payload(source, n))
        headers = signed_headers(source, body, NOW_S + skew_s)
        # When posted / Then accepted
        assert client.post(f"/webhooks/{source}", content=body, headers=headers).status_code == 202
    assert queue_len(broker, keys) == 2


def test_generic_timestamp_is_part_of_what_is_signed(
    client: TestClient, broker: dramatiq.Broker, keys: Keys, r: redis.Redis
) -> None:
    # Given a valid generic signature replayed with a fresher timestamp header
    body = encode(payload("generic"))
    headers = signed_headers("generic", body, NOW_S - 1000)
    headers["X-Paceline-Timestamp"] = str(int(NOW_S))
    # When posted / Then refused: the timestamp cannot be moved without the secret
    assert client.post("/webhooks/generic", content=body, headers=headers).status_code == 401
    assert_nothing_enqueued(broker, keys, r)
