"""The demo tenants' order system the simulator serves: one requester of one tenant at a time."""

from __future__ import annotations

import httpx

from shared.demo_store.customers import CustomerStore
from tests.conftest import SimulatorProcess


def test_serves_one_requester_of_one_tenant(simulator: SimulatorProcess) -> None:
    root = simulator.base_url.removesuffix("/v1")
    own = CustomerStore.bundled().get("acme", "u-1")
    assert own is not None
    got = httpx.get(f"{root}/demo-store/acme/customers/u-1", params={"kind": "orders"}).json()
    assert got == {"found": True, "plan": own.plan, "orders": own.orders}
    # the same requester id under another tenant is another customer (or none)
    other = httpx.get(f"{root}/demo-store/globex/customers/u-1").json()
    assert other.get("orders") != own.orders
    missing = httpx.get(f"{root}/demo-store/acme/customers/nobody").json()
    assert missing["found"] is False
    bad = httpx.get(f"{root}/demo-store/acme/customers/u-1", params={"kind": "everything"})
    assert bad.status_code == 422
