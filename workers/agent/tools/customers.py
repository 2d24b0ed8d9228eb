"""The sample customer store and `lookup_customer_history`, scoped to one ticket's requester.

The tool is bound to (tenant, requester) when the ticket's tools are built; arguments naming
anyone else are denied, never looked up, so no other customer's data can reach the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    requester_id: str
    name: str
    email: str
    plan: str
    orders: list[dict[str, Any]]
    past_tickets: list[dict[str, Any]]


class LookupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["orders", "tickets", "all"] = "all"
    requester_id: str | None = Field(default=None, max_length=200)
    tenant_id: str | None = Field(default=None, max_length=100)


class CustomerStore:
    def __init__(self, customers: list[Customer]) -> None:
        self.customers = customers
        self._by_key = {(c.tenant_id, c.requester_id): c for c in customers}

    @classmethod
    def bundled(cls) -> CustomerStore:
        text = resources.files("workers.agent").joinpath("data/customers.json").read_text()
        return cls([Customer(**c) for c in json.loads(text)["customers"]])

    def get(self, tenant_id: str, requester_id: str) -> Customer | None:
        return self._by_key.get((tenant_id, requester_id))


def denial(args: LookupArgs, tenant_id: str, requester_id: str) -> str | None:
    """Why a lookup reaches beyond the bound ticket, or None when it stays inside it."""
    if args.tenant_id is not None and args.tenant_id != tenant_id:
        return "tenant"
    if args.requester_id is not None and args.requester_id != requester_id:
        return "requester"
    return None


def history(customer: Customer | None, kind: str) -> tuple[dict[str, Any], str]:
    """(the JSON the model sees, a summary for `gathered`) for the bound requester only."""
    if customer is None:
        return {"found": False, "note": "no history on file for this requester"}, "history: none"
    payload: dict[str, Any] = {"found": True, "plan": customer.plan}
    parts = []
    if kind in ("orders", "all"):
        payload["orders"] = customer.orders
        parts.append(f"{len(customer.orders)} orders")
    if kind in ("tickets", "all"):
        payload["past_tickets"] = customer.past_tickets
        parts.append(f"{len(customer.past_tickets)} past tickets")
    return payload, "history: " + ", ".join(parts)
