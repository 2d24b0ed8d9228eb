"""A tenant is proven, not claimed: the key that verifies decides it (issue: tenant identity).

Through the real app over ASGI, on the real Redis: a tenant's own key on
`/webhooks/{source}/{tenant}`, the source-wide key on `/webhooks/{source}`, and bodies that
try to name another tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
import redis
from fastapi.testclient import TestClient

from producers.webhook.app import create_app
from shared.broker import build_broker
from shared.clock import ManualClock
from shared.keys import Keys
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from shared.tenants import Tenants, load_tenants
from tests.conftest import make_settings
from tests.producers.webhook.conftest import NOW_S
from tests.producers.webhook.vendor_cases import encode, payload, secret_env, signed_headers

TENANTS_TOML = """
[tenants.acme.webhooks]
zendesk = { secret_env = "ACME_ZENDESK_SECRET" }
generic = { secret_env = "ACME_GENERIC_SECRET" }

[tenants.globex.webhooks]
zendesk = { secret_env = "GLOBEX_ZENDESK_SECRET" }
"""
OWN = {
    "ACME_ZENDESK_SECRET": "acme-zendesk-secret-0001",
    "ACME_GENERIC_SECRET": "acme-generic-secret-0001",
    "GLOBEX_ZENDESK_SECRET": "globex-zendesk-secret-01",
}


@pytest.fixture
def tenant_settings(namespace: str, tmp_path: Path) -> Settings:
    path = tmp_path / "tenants.toml"
    path.write_text(TENANTS_TOML)
    return make_settings(
        namespace, tenants_file=path, webhook_default_tenant="house", **secret_env()
    )


@pytest.fixture
def client(tenant_settings: Settings, r: redis.Redis) -> Iterator[TestClient]:
    broker: dramatiq.Broker = build_broker(tenant_settings)
    tenants: Tenants = load_tenants(tenant_settings, OWN)
    app = create_app(
        tenant_settings, clock=ManualClock(NOW_S), broker=broker, redis_client=r, tenants=tenants
    )
    with TestClient(app) as tc:
        yield tc
    broker.close()


def _tenants_of(r: redis.Redis, namespace: str) -> list[str]:
    return sorted(o.tenant_id for o in OutcomeStore(r, Keys(namespace)).iter_outcomes())


def test_a_tenants_own_key_decides_the_tenant(
    client: TestClient, r: redis.Redis, namespace: str
) -> None:
    # Given a Zendesk delivery for acme that claims to be globex's
    body = encode({**payload("zendesk"), "tenant_id": "globex"})
    headers = signed_headers("zendesk", body, NOW_S, secret=OWN["ACME_ZENDESK_SECRET"])
    # When it arrives on acme's route signed with acme's key
    resp = client.post("/webhooks/zendesk/acme", content=body, headers=headers)
    # Then it is accepted as acme's ticket, whatever the body says
    assert resp.status_code == 202, resp.text
    assert _tenants_of(r, namespace) == ["acme"]


def test_another_tenants_key_or_a_tenant_without_one_is_refused(
    client: TestClient, r: redis.Redis, namespace: str
) -> None:
    body = encode(payload("zendesk"))
    # Given globex's key used on acme's route / Then 401: it does not verify
    globex_signed = signed_headers("zendesk", body, NOW_S, secret=OWN["GLOBEX_ZENDESK_SECRET"])
    assert (
        client.post("/webhooks/zendesk/acme", content=body, headers=globex_signed).status_code
        == 401
    )
    # Given the source-wide key on a tenant's route / Then 401 too (the key is the tenant's)
    wide = signed_headers("zendesk", body, NOW_S)
    assert client.post("/webhooks/zendesk/acme", content=body, headers=wide).status_code == 401
    # Given a tenant, or a source of a tenant, with no key / Then 404 like an unknown source
    assert client.post("/webhooks/zendesk/initech", content=body, headers=wide).status_code == 404
    assert client.post("/webhooks/intercom/acme", content=body, headers=wide).status_code == 404
    assert _tenants_of(r, namespace) == []


def test_the_source_wide_key_of_a_vendor_ignores_a_tenant_in_the_body(
    client: TestClient, r: redis.Redis, namespace: str
) -> None:
    # Given a Zendesk delivery on the source-wide key whose body names a tenant
    body = encode({**payload("zendesk"), "tenant_id": "globex"})
    resp = client.post(
        "/webhooks/zendesk", content=body, headers=signed_headers("zendesk", body, NOW_S)
    )
    # Then it is the default tenant's: the body cannot choose whose data the tools read
    assert resp.status_code == 202, resp.text
    assert _tenants_of(r, namespace) == ["house"]


def test_the_generic_source_names_a_tenant_only_on_the_source_wide_key(
    client: TestClient, r: redis.Redis, namespace: str
) -> None:
    # Given acme's own generic key, and a body naming globex
    body = encode({**payload("generic"), "tenant_id": "globex"})
    own = signed_headers("generic", body, NOW_S, secret=OWN["ACME_GENERIC_SECRET"])
    # When it arrives on acme's route / Then it is refused: the key speaks for acme only
    resp = client.post("/webhooks/generic/acme", content=body, headers=own)
    assert resp.status_code == 422 and "another tenant" in resp.json()["reason"]
    # But a body naming acme, or none, is acme's
    for doc in (
        payload("generic", 2),
        {k: v for k, v in payload("generic", 3).items() if k != "tenant_id"},
    ):
        raw = encode(doc)
        signed = signed_headers("generic", raw, NOW_S, secret=OWN["ACME_GENERIC_SECRET"])
        assert client.post("/webhooks/generic/acme", content=raw, headers=signed).status_code == 202
    # And on the source-wide key (trusted with every tenant) the body's tenant is used
    resp = client.post(
        "/webhooks/generic", content=body, headers=signed_headers("generic", body, NOW_S)
    )
    assert resp.status_code == 202
    assert _tenants_of(r, namespace) == ["acme", "acme", "globex"]


def test_a_tenant_added_to_the_file_is_served_without_a_restart(
    tenant_settings: Settings, r: redis.Redis
) -> None:
    from shared.tenants import TenantRegistry
    from shared.tenants.registry import CHECK_INTERVAL_S

    # Given the running app over the tenants file, and time from an injected monotonic clock
    path = tenant_settings.tenants_file
    assert path is not None
    env = {**OWN, "INITECH_ZENDESK_SECRET": "initech-zendesk-secret-01"}
    now = [0.0]
    registry = TenantRegistry(
        load_tenants(tenant_settings, env), path, environ=env, monotonic=lambda: now[0]
    )
    broker: dramatiq.Broker = build_broker(tenant_settings)
    app = create_app(
        tenant_settings, clock=ManualClock(NOW_S), broker=broker, redis_client=r, tenants=registry
    )
    body = encode(payload("zendesk", 5))
    headers = signed_headers("zendesk", body, NOW_S, secret=env["INITECH_ZENDESK_SECRET"])
    with TestClient(app) as tc:
        assert (
            tc.post("/webhooks/zendesk/initech", content=body, headers=headers).status_code == 404
        )
        # When initech's key is added to the file, and the registry next looks
        path.write_text(
            TENANTS_TOML
            + '\n[tenants.initech.webhooks]\nzendesk = { secret_env = "INITECH_ZENDESK_SECRET" }\n'
        )
        now[0] += CHECK_INTERVAL_S
        # Then initech's deliveries are verified with its key, without a restart
        assert (
            tc.post("/webhooks/zendesk/initech", content=body, headers=headers).status_code == 202
        )
    broker.close()
