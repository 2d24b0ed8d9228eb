"""SSRF through `callback_url`, refused at ingest: through the real app over ASGI, a callback
naming a loopback, private, link-local or metadata address is a 422 that says why, and nothing
is queued. (The worker refuses the same again at send time: tests/workers/replies/.)"""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.keys import Keys
from tests.conftest import make_settings
from tests.producers.webhook.conftest import NOW_S, pending_tickets
from tests.producers.webhook.vendor_cases import encode, payload, secret_env, signed_headers

ATTACKS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.1:6379/",
    "http://[::1]:8080/ops",
    "http://[::ffff:127.0.0.1]:8080/ops",
    "http://localhost:9000/replies",
    "http://127.1:6379/",
    "http://10.0.0.5/internal",
    "http://[fe80::1]/",
]


@pytest.fixture
def strict_client(namespace: str, r: redis.Redis) -> Iterator[TestClient]:
    # The production default: private networks not allowed
    settings = make_settings(namespace, allow_private_networks="false", **secret_env())
    broker: dramatiq.Broker = build_broker(settings)
    app = create_app(settings, clock=ManualClock(NOW_S), broker=broker, redis_client=r)
    with TestClient(app) as tc:
        yield tc
    broker.close()


def _post(client: TestClient, callback_url: str) -> tuple[int, dict[str, str]]:
    body = encode({**payload("generic"), "callback_url": callback_url})
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    return resp.status_code, resp.json()


@pytest.mark.parametrize("url", ATTACKS)
def test_a_callback_to_a_private_address_is_refused_at_ingest(
    strict_client: TestClient, r: redis.Redis, keys: Keys, url: str
) -> None:
    # When a signed ticket asks for its reply at an internal address
    status, doc = _post(strict_client, url)
    # Then 422, the reason names the kind of address and the setting, and nothing is accepted
    assert status == 422, doc
    assert doc["reason"].startswith("callback_url: names a")
    assert "PACELINE_ALLOW_PRIVATE_NETWORKS" in doc["reason"]
    assert pending_tickets(r, keys) == 0


def test_a_public_callback_is_accepted(strict_client: TestClient) -> None:
    assert _post(strict_client, "https://hooks.example.com/replies")[0] == 202


def test_the_setting_allows_loopback_for_tests_and_demos(client: TestClient) -> None:
    # Given PACELINE_ALLOW_PRIVATE_NETWORKS=true (the test suite's setting) / Then accepted
    assert _post(client, "http://127.0.0.1:9000/replies")[0] == 202
