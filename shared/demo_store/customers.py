"""The demo's sample customers (shared/data/demo/customers.json): what the demo tenants'
`lookup_customer_history` connector reads over HTTP, and the reply check's list of the demo's
known customers in tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    requester_id: str
    name: str
    email: str
    plan: str
    orders: list[dict[str, Any]]
    past_tickets: list[dict[str, Any]]


class CustomerStore:
    def __init__(self, customers: list[Customer]) -> None:
        self.customers = customers
        self._by_key = {(c.tenant_id, c.requester_id): c for c in customers}

    @classmethod
    def bundled(cls) -> CustomerStore:
        text = resources.files("shared.data").joinpath("demo/customers.json").read_text()
        return cls([Customer(**c) for c in json.loads(text)["customers"]])

    def get(self, tenant_id: str, requester_id: str) -> Customer | None:
        return self._by_key.get((tenant_id, requester_id))


def history(customer: Customer | None, kind: str) -> dict[str, Any]:
    """What the store answers for one requester: orders, past tickets or both."""
    if customer is None:
        return {"found": False, "note": "no history on file for this requester"}
    payload: dict[str, Any] = {"found": True, "plan": customer.plan}
    if kind in ("orders", "all"):
        payload["orders"] = customer.orders
    if kind in ("tickets", "all"):
        payload["past_tickets"] = customer.past_tickets
    return payload
