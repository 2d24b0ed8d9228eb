"""The demo tenants' order system: the sample customers served over HTTP beside the simulator
(`GET /demo-store/{tenant}/customers/{requester_id}?kind=orders|tickets|all`), so the agent
reads them through a connector like any tenant's own service, not through a special case."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.responses import Response

from shared.demo_store.customers import CustomerStore, history

PREFIX = "/demo-store"
KINDS = ("orders", "tickets", "all")


def add_routes(app: FastAPI, store: CustomerStore | None = None) -> None:
    customers = store or CustomerStore.bundled()

    @app.get(PREFIX + "/{tenant}/customers/{requester_id}")
    async def customer_history(tenant: str, requester_id: str, kind: str = "all") -> Response:
        if kind not in KINDS:
            body = {"error": f"kind must be one of {', '.join(KINDS)}"}
            return Response(json.dumps(body), 422, media_type="application/json")
        found = history(customers.get(tenant, requester_id), kind)
        return Response(json.dumps(found), media_type="application/json")
