"""The real app under uvicorn over loopback: concurrency dedupe, real HTTP, clean SIGTERM."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from shared.keys import Keys
from tests.conftest import REDIS_URL, free_port
from tests.producers.webhook.server import WebhookProcess
from tests.producers.webhook.vendor_cases import SECRETS, encode, payload, signed_headers


@pytest.fixture
def server(namespace: str) -> Iterator[WebhookProcess]:
    env = {"PACELINE_REDIS_URL": REDIS_URL, "PACELINE_NAMESPACE": namespace}
    env.update({f"PACELINE_WEBHOOK_SECRET_{k.upper()}": v for k, v in SECRETS.items()})
    proc = WebhookProcess(env, free_port())
    yield proc
    proc.stop()


def test_five_concurrent_identical_deliveries_make_one_job(
    server: WebhookProcess, keys: Keys, r: object
) -> None:
    # Given one Zendesk delivery, signed now
    body = encode(payload("zendesk"))
    headers = signed_headers("zendesk", body, time.time())
    results: list[dict[str, object]] = []
    gate = threading.Barrier(5)

    def send() -> None:
        with httpx.Client(timeout=10) as http:
            gate.wait()
            resp = http.post(f"{server.url}/webhooks/zendesk", content=body, headers=headers)
            assert resp.status_code == 202
            results.append(resp.json())

    # When five copies arrive at once
    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    # Then exactly one is new, all name the same job, and one message is queued
    assert len(results) == 5
    assert sum(1 for doc in results if doc["duplicate"] is False) == 1
    assert len({doc["job_id"] for doc in results}) == 1
    import redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert client.llen(f"{keys.dramatiq_namespace}:tickets_live") == 1
    finally:
        client.close()


def test_real_http_refuses_forgery_and_stops_cleanly_on_sigterm(server: WebhookProcess) -> None:
    # Given the server running
    body = encode(payload("generic"))
    with httpx.Client(timeout=5) as http:
        forged = signed_headers("generic", body, time.time(), secret="guess")
        # When a forged and a genuine delivery arrive
        assert (
            http.post(f"{server.url}/webhooks/generic", content=body, headers=forged).status_code
            == 401
        )
        genuine = signed_headers("generic", body, time.time())
        assert (
            http.post(f"{server.url}/webhooks/generic", content=body, headers=genuine).status_code
            == 202
        )
        assert http.get(f"{server.url}/readyz").status_code == 200
    # Then SIGTERM stops it with exit code 0
    assert server.terminate() == 0
