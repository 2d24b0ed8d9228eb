"""Signed bytes replayed under a new unsigned id are duplicates; vendor ids that could
traverse a reply URL and strings that cannot be stored are refused at ingest. Through the
real app over ASGI, on the real Redis."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
from fastapi.testclient import TestClient

from shared.keys import Keys
from tests.producers.webhook.conftest import NOW_S, queue_len
from tests.producers.webhook.vendor_cases import encode, payload, signed_headers


def _post(client: TestClient, source: str, body: bytes, headers: dict[str, str]) -> Any:
    resp = client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_a_jira_delivery_replayed_under_a_new_identifier_is_a_duplicate(
    client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given a signed Jira delivery (Jira signs the body only, no timestamp)
    body = encode(payload("jira"))
    headers = signed_headers("jira", body, NOW_S)
    first = _post(client, "jira", body, headers)
    # When the same bytes are replayed with a new, unsigned X-Atlassian-Webhook-Identifier
    replayed = _post(client, "jira", body, {**headers, "X-Atlassian-Webhook-Identifier": "wh-new"})
    # Then it is the same delivery: no second job, no second paid run or note
    assert first["duplicate"] is False and replayed["duplicate"] is True
    assert replayed["job_id"] == first["job_id"] and queue_len(broker, keys) == 1


@pytest.mark.parametrize("shape", ["event", "trigger"])
def test_a_zendesk_delivery_replayed_under_a_new_invocation_id_is_a_duplicate(
    client: TestClient, broker: dramatiq.Broker, keys: Keys, shape: str
) -> None:
    # Given a signed Zendesk delivery: an event (signed `id` in the body) or a trigger body
    doc = payload("zendesk")
    if shape == "trigger":
        doc = {"ticket": doc["detail"]}
    body = encode(doc)
    headers = signed_headers("zendesk", body, NOW_S)
    first = _post(client, "zendesk", body, headers)
    # When the same signed bytes come again, inside the window, with a new invocation id
    again = {**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-replayed"}
    replayed = _post(client, "zendesk", body, again)
    # Then one job
    assert first["duplicate"] is False and replayed["duplicate"] is True
    assert queue_len(broker, keys) == 1


def test_different_signed_bytes_are_different_deliveries(
    client: TestClient, broker: dramatiq.Broker, keys: Keys
) -> None:
    # Given two Jira events of the same issue (Jira's bodies differ, by timestamp at least)
    for stamp in (1, 2):
        body = encode({**payload("jira"), "timestamp": stamp})
        _post(client, "jira", body, signed_headers("jira", body, NOW_S))
    # Then both are queued
    assert queue_len(broker, keys) == 2


TRAVERSING_IDS = {
    "zendesk": lambda doc: {**doc, "detail": {**doc["detail"], "id": "1/../../users"}},
    "intercom": lambda doc: {**doc, "data": {"item": {**doc["data"]["item"], "id": ".."}}},
    "front": lambda doc: {
        **doc, "payload": {**doc["payload"], "conversation": {"id": "cnv_1/.."}}
    },
    "helpscout": lambda doc: {**doc, "id": ".."},
    "jira": lambda doc: {**doc, "issue": {**doc["issue"], "key": "../../myself"}},
    "freshdesk": lambda doc: {"freshdesk_webhook": {**doc["freshdesk_webhook"], "ticket_id": ".."}},
}  # fmt: skip


@pytest.mark.parametrize("source", sorted(TRAVERSING_IDS))
def test_a_vendor_id_out_of_the_vendors_format_is_refused(
    client: TestClient, broker: dramatiq.Broker, keys: Keys, source: str
) -> None:
    # Given a delivery whose ticket id would walk the reply URL (`..` survives quoting)
    body = encode(TRAVERSING_IDS[source](payload(source)))
    headers = signed_headers(source, body, NOW_S)
    # When it arrives / Then 422 naming the rule, and nothing queued
    resp = client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert "id format" in resp.json()["reason"]
    assert queue_len(broker, keys) == 0


@pytest.mark.parametrize("field", ["tags", "subject"])
def test_a_lone_surrogate_is_refused_like_any_invalid_string(
    client: TestClient, broker: dramatiq.Broker, keys: Keys, field: str
) -> None:
    # Given a ticket whose tag (or subject) is a lone surrogate, valid JSON but not Unicode
    doc = payload("generic")
    raw = encode({**doc, field: ["SURROGATE"] if field == "tags" else "SURROGATE"})
    body = raw.replace(b"SURROGATE", b"\\ud800")
    headers = signed_headers("generic", body, NOW_S)
    # When it arrives / Then 422: it could never be stored or dead-lettered
    resp = client.post("/webhooks/generic", content=body, headers=headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["reason"].startswith(field)
    assert queue_len(broker, keys) == 0
