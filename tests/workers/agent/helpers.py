"""Building a real agent against the simulator subprocess, and tickets to feed it."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from shared.clock import Clock, SystemClock
from shared.connectors import ConnectorCaller, ConnectorDirectory
from shared.demo_store.customers import CustomerStore
from shared.demo_store.tenants import demo_connectors
from shared.models import Requester, Ticket
from shared.outbound import OutboundClient
from shared.pricing import PriceTable
from shared.settings import Settings
from tests.conftest import make_settings
from tests.helpers import demo_knowledge
from workers.agent.budget import LocalBudget
from workers.agent.circuit_hook import CircuitHook
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox

_ids = itertools.count(1)
# Plenty for any ordinary ticket at gpt-4o-mini prices (a few hundred micros each).
ROOMY_ENVELOPE_MICROS = 100_000


def agent_settings(namespace: str, base_url: str, **env: Any) -> Settings:
    return make_settings(namespace, llm_base_url=base_url, llm_api_key="test", **env)


def build_agent(
    settings: Settings,
    *,
    clock: Clock | None = None,
    circuit: CircuitHook | None = None,
    tools: ToolBox | None = None,
) -> Agent:
    # The reply check knows the demo's customers, whose data the demo connectors return.
    return Agent(
        settings=settings,
        llm=LLMClient(settings),
        prices=PriceTable.load(),
        clock=clock or SystemClock(),
        tools=tools or demo_tools(settings),
        circuit=circuit,
        known_customers=CustomerStore.bundled(),
    )


def demo_tools(settings: Settings, store_url: str | None = None) -> ToolBox:
    """The demo tenants' connectors (the sample order system the simulator serves, at
    `store_url` or at the simulator the settings name) and the demo help centre (imported
    into the test's namespace)."""
    return ToolBox(
        knowledge=demo_knowledge(settings), connectors=demo_directory(settings, store_url)
    )


def demo_directory(settings: Settings, store_url: str | None = None) -> ConnectorDirectory:
    """Closed with the agent (Agent.close closes its tools); none without a simulator."""
    if not (store_url or settings.llm_base_url):
        return ConnectorDirectory.empty()
    url = httpx.URL(store_url or settings.llm_base_url or "")
    root = f"{url.scheme}://{url.netloc.decode()}"
    caller = ConnectorCaller(OutboundClient(allow_private=True), owns_http=True)
    return ConnectorDirectory(demo_connectors(root), caller)


def ticket(
    body: str,
    subject: str = "Help",
    *,
    tenant: str = "acme",
    requester: str = "u-3",
    email: str | None = "carla@acme.example",
    name: str | None = "Carla Customer",
) -> Ticket:
    n = next(_ids)
    return Ticket(
        event_id=f"evt-{n}",
        ticket_id=f"T-{n}",
        tenant_id=tenant,
        requester=Requester(id=requester, email=email, name=name),
        subject=subject,
        body=body,
    )


def roomy_budget() -> LocalBudget:
    return LocalBudget(ROOMY_ENVELOPE_MICROS)
