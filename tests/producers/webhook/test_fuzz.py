"""Hypothesis over every route: any headers, any body, signed or not -> never a 5xx, and
nothing is queued unless the answer is 202."""

from __future__ import annotations

import json
from typing import Any

import dramatiq
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.keys import Keys
from tests.producers.webhook.conftest import NOW_S, pending_tickets, queue_len
from tests.producers.webhook.vendor_cases import ALL_SOURCES, PROOF_HEADER, payload, signed_headers

HEADER_NAMES = sorted(
    {
        *PROOF_HEADER.values(),
        "X-Paceline-Timestamp",
        "X-Zendesk-Webhook-Signature-Timestamp",
        "X-Front-Request-Timestamp",
        "X-Front-Challenge",
        "X-HelpScout-Event",
        "X-Atlassian-Webhook-Identifier",
        "X-Zendesk-Webhook-Invocation-Id",
        "Content-Length",
        "Content-Type",
        "X-Other",
    }
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated_payload(draw: st.DrawFn, source: str) -> bytes:
    """A vendor's realistic payload with some fields replaced by arbitrary JSON."""
    doc: dict[str, Any] = payload(source, draw(st.integers(1, 10**6)))
    for key in draw(st.lists(st.sampled_from(sorted(doc)), max_size=3)):
        doc[key] = draw(json_values)
    return json.dumps(doc).encode()


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    source = draw(st.sampled_from([*ALL_SOURCES, "nosuch", "GENERIC", "generic%20x"]))
    known = source in ALL_SOURCES
    body = draw(
        st.binary(max_size=600)
        | json_values.map(lambda v: json.dumps(v).encode())
        | (mutated_payload(source) if known else st.just(b"{}"))
    )
    headers = draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4))
    headers.pop("Content-Length", None)  # the client computes it; a lie is tested elsewhere
    if known and draw(st.booleans()):
        headers = {**headers, **signed_headers(source, body, NOW_S + draw(st.integers(-400, 400)))}
    return source, body, headers


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(delivery=deliveries())
def test_any_delivery_never_5xx_and_only_202_enqueues(
    delivery: tuple[str, bytes, dict[str, str]],
    client: TestClient,
    broker: dramatiq.Broker,
    keys: Keys,
    r: redis.Redis,
) -> None:
    # Given whatever a client may send
    source, body, headers = delivery
    queued_before, pending_before = queue_len(broker, keys), pending_tickets(r, keys)
    # When it is posted
    resp = client.post(f"/webhooks/{source}", content=body, headers=headers)
    event(f"status {resp.status_code}")
    # Then the answer is never a server error
    assert resp.status_code < 500, resp.text
    assert resp.status_code in (200, 202, 401, 404, 413, 422)
    # And only an accepted new delivery adds a message
    added = queue_len(broker, keys) - queued_before
    if resp.status_code == 202 and not resp.json()["duplicate"]:
        assert added == 1
    else:
        assert added == 0
        assert pending_tickets(r, keys) == pending_before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30))
def test_other_paths_and_methods_never_5xx(path: str, client: TestClient) -> None:
    # Given any path and the probes / Then no 5xx from routing alone
    for method in ("GET", "POST", "PUT"):
        assert client.request(method, "/" + path.lstrip("/")).status_code < 500
    assert client.get("/healthz").status_code == 200
