"""Two tenants side by side from one tenants file, every part real: signed tickets in on each
tenant's own webhook path, the worker's agent through the simulator, each tenant's connector
a real local service with its own credential. Each ticket reaches only its tenant's service,
for its own requester."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from shared.stores.outcomes import OutcomeStore
from tests.conftest import SimulatorProcess, make_settings
from tests.helpers import WebhookServer, generic_ticket, sign_generic, tkey, wait_for
from tests.shared.connectors.service import local_service
from workers.runtime import RunningWorker

ENV = {
    "ACME_GENERIC_SECRET": "acme-generic-e2e-9f3Kq81xZ",
    "GLOBEX_GENERIC_SECRET": "globex-generic-e2e-4Lm27Wv",
    "ACME_ORDERS_TOKEN": "acme-orders-tok-7Hx29PqLs0",
    "GLOBEX_ORDERS_TOKEN": "globex-orders-tok-3Nd81RwKe5",
}


def tenant(name: str, url: str) -> str:
    upper = name.upper()
    return f"""
[tenants.{name}]
allowed_hosts = ["127.0.0.1"]
webhooks = {{ generic = {{ secret_env = "{upper}_GENERIC_SECRET" }} }}
[[tenants.{name}.connectors]]
name = "lookup_orders"
description = "The orders of this ticket's customer"
[tenants.{name}.connectors.request]
url = "{url}/customers/{{requester.id}}"
headers = {{ Authorization = "Bearer ${{{upper}_ORDERS_TOKEN}}" }}
"""


def test_two_tenants_each_reach_only_their_own_connector(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with local_service() as acme, local_service() as globex:
        file = tmp_path / "tenants.toml"
        file.write_text(tenant("acme", acme.url) + tenant("globex", globex.url))
        settings = make_settings(
            namespace, llm_base_url=simulator.base_url, llm_api_key="sk-e2e", tenants_file=file
        )
        with WebhookServer(settings) as app, RunningWorker(settings, threads=2) as worker:
            # Given an order ticket for each tenant, each signed with its tenant's own key
            for name, requester in (("acme", "u-1"), ("globex", "g-9")):
                doc = generic_ticket(f"{name}-1", tenant_id=name, requester={"id": requester})
                body = json.dumps(doc).encode()
                headers = sign_generic(ENV[f"{name.upper()}_GENERIC_SECRET"], body)
                resp = httpx.post(
                    f"{app.url}/webhooks/generic/{name}", content=body, headers=headers
                )
                assert resp.status_code == 202, resp.text
            store = OutcomeStore(worker.ctx.redis, worker.ctx.keys)

            def final(name: str) -> bool:
                o = store.get(tkey(f"T-{name}-1", tenant=name))
                return o is not None and o.status.is_final

            assert wait_for(lambda: final("acme") and final("globex"), timeout_s=30)
            # counted per tenant, connector and result code (no requester, no data)
            metrics = worker.ctx.metrics
            assert metrics is not None
            for name in ("acme", "globex"):
                calls = metrics.registry.get_sample_value(
                    "paceline_connector_calls_total",
                    {"tenant": name, "connector": "lookup_orders", "code": "ok"},
                )
                assert calls == 1
        for name in ("acme", "globex"):
            outcome = store.get(tkey(f"T-{name}-1", tenant=name))
            assert outcome is not None and outcome.status == "answered", outcome
            assert outcome.tools_used[0] == "lookup_orders"
    # Then each service was called once, for its own tenant's requester, with its own token
    assert [(r.path, r.headers["authorization"]) for r in acme.requests] == [
        ("/customers/u-1", f"Bearer {ENV['ACME_ORDERS_TOKEN']}")
    ]
    assert [(r.path, r.headers["authorization"]) for r in globex.requests] == [
        ("/customers/g-9", f"Bearer {ENV['GLOBEX_ORDERS_TOKEN']}")
    ]
