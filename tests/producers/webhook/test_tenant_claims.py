"""What a body may claim on the source-wide key, through the real app over ASGI: a vendor's
body never chooses its tenant, and two tenants (or two sources) sharing ids keep apart."""

from __future__ import annotations

import redis
from fastapi.testclient import TestClient

from shared.keys import Keys
from shared.stores.outcomes import OutcomeStore
from tests.producers.webhook.conftest import NOW_S
from tests.producers.webhook.vendor_cases import ALL_SOURCES, encode, payload, signed_headers


def _post(client: TestClient, source: str, doc: dict[str, object]) -> dict[str, object]:
    body = encode(doc)
    resp = client.post(
        f"/webhooks/{source}", content=body, headers=signed_headers(source, body, NOW_S)
    )
    assert resp.status_code == 202, resp.text
    result: dict[str, object] = resp.json()
    return result


def test_a_vendor_body_never_chooses_its_tenant(
    client: TestClient, r: redis.Redis, keys: Keys
) -> None:
    # Given every vendor's delivery on its source-wide key, each body naming the tenant "globex"
    for source in ALL_SOURCES:
        if source != "generic":
            _post(client, source, {**payload(source), "tenant_id": "globex"})
    # Then every ticket is the default tenant's: whoever holds a source's secret cannot pick
    # whose data the tools read (nor does the vendor account id in the body decide)
    tenants = {o.tenant_id for o in OutcomeStore(r, keys).iter_outcomes()}
    assert tenants == {"default"}


def test_the_generic_body_names_its_tenant_on_the_source_wide_key(
    client: TestClient, r: redis.Redis, keys: Keys
) -> None:
    # Given the generic source's source-wide key (trusted with every tenant)
    _post(client, "generic", {**payload("generic"), "tenant_id": "globex"})
    # Then the body's tenant is used
    assert [o.tenant_id for o in OutcomeStore(r, keys).iter_outcomes()] == ["globex"]


def test_two_tenants_sharing_an_event_id_are_two_deliveries(
    client: TestClient, r: redis.Redis, keys: Keys
) -> None:
    # Given two tenants whose tickets share the event id and the ticket id
    first = _post(client, "generic", {**payload("generic"), "tenant_id": "acme"})
    second = _post(client, "generic", {**payload("generic"), "tenant_id": "globex"})
    # Then the second is not dropped as a duplicate, and neither outcome overwrites the other
    assert first["duplicate"] is False and second["duplicate"] is False
    assert first["job_id"] != second["job_id"]
    assert OutcomeStore(r, keys).summary()["pending"] == 2
    assert sorted(o.tenant_id for o in OutcomeStore(r, keys).iter_outcomes()) == ["acme", "globex"]


def test_a_generic_ticket_cannot_overwrite_a_vendor_ticket_with_the_same_id(
    client: TestClient, r: redis.Redis, keys: Keys
) -> None:
    # Given a Zendesk ticket (our id zd-101) of the default tenant
    _post(client, "zendesk", payload("zendesk"))
    # When a generic ticket of the same tenant takes the id zd-101
    _post(client, "generic", {**payload("generic"), "ticket_id": "zd-101", "tenant_id": "default"})
    # Then both outcomes stand, one per source
    outcomes = list(OutcomeStore(r, keys).iter_outcomes())
    assert sorted(o.ticket_id for o in outcomes) == ["zd-101", "zd-101"]
    assert OutcomeStore(r, keys).summary()["pending"] == 2
