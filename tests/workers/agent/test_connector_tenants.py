"""Two tenants' connectors side by side, through the real loader, the agent and the simulator
over HTTP: a ticket reaches only its own tenant's service, for its own requester, and a
service that fails leaves the ticket answered, not crashed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.connectors import ConnectorCaller, ConnectorDirectory
from shared.outbound import OutboundClient
from shared.tenants import load_tenants
from tests.conftest import SimulatorProcess
from tests.shared.connectors.service import Service, local_service
from tests.workers.agent.helpers import agent_settings, build_agent, roomy_budget, ticket
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox


def tenants_file(path: Path, acme: str, globex: str) -> Path:
    path.write_text(
        f"""
[tenants.acme]
allowed_hosts = ["127.0.0.1"]
[[tenants.acme.connectors]]
name = "lookup_orders"
description = "The orders of this ticket's customer"
parameters = {{ properties = {{ status = {{ type = "string", enum = ["all", "open"] }} }} }}
[tenants.acme.connectors.request]
url = "{acme}/customers/{{requester.id}}"
query = {{ email = "{{requester.email}}" }}

[tenants.globex]
allowed_hosts = ["127.0.0.1"]
[[tenants.globex.connectors]]
name = "account_status"
description = "This customer's account and subscription"
request = {{ url = "{globex}/customers/{{requester.id}}" }}
timeout_s = 0.5
"""
    )
    return path


@pytest.fixture
def services() -> Iterator[tuple[Service, Service]]:
    with local_service() as a, local_service() as b:
        yield a, b


def agent_for(namespace: str, sim: SimulatorProcess, file: Path) -> Agent:
    settings = agent_settings(namespace, sim.base_url, tenants_file=file)
    tenants = load_tenants(settings)
    caller = ConnectorCaller(OutboundClient(allow_private=True), owns_http=True)
    return build_agent(
        settings, tools=ToolBox(connectors=ConnectorDirectory(tenants.connectors, caller))
    )


def test_each_ticket_reaches_only_its_own_tenants_connector(
    namespace: str, simulator: SimulatorProcess, services: tuple[Service, Service], tmp_path: Path
) -> None:
    acme, globex = services
    agent = agent_for(namespace, simulator, tenants_file(tmp_path / "t.toml", acme.url, globex.url))
    try:
        # Given an order ticket of acme's u-1
        a = agent.run(ticket("Where is my order?", "Order", tenant="acme", requester="u-1",
                             email="ann@acme.example"), roomy_budget())  # fmt: skip
        # Then acme's connector was called, for u-1 with u-1's email, and globex's not at all
        assert a.status == "answered", a.reason
        assert a.tools_used[0] == "lookup_orders"
        assert [(r.path, r.query) for r in acme.requests] == [
            ("/customers/u-1", {"email": ["ann@acme.example"]})
        ]
        assert globex.requests == []
        # And the result reached the model fenced as data
        assert a.tool_trace[0].content.startswith('<connector_result tool="lookup_orders">')
        # Given a globex subscription ticket / Then only globex's service is called
        g = agent.run(ticket("My subscription renewal failed", tenant="globex", requester="g-7"),
                      roomy_budget())  # fmt: skip
        assert g.tools_used[0] == "account_status"
        assert [r.path for r in globex.requests] == ["/customers/g-7"]
        assert len(acme.requests) == 1
        # Given a tenant with no connectors / Then neither service hears of its tickets
        other = agent.run(ticket("Where is my order?", tenant="initech"), roomy_budget())
        assert other.status == "answered" and "lookup_orders" not in other.tools_used
        assert len(acme.requests) == len(globex.requests) == 1
    finally:
        agent.close()


def test_asking_for_another_customer_never_reaches_the_service(
    namespace: str, simulator: SimulatorProcess, services: tuple[Service, Service], tmp_path: Path
) -> None:
    acme, globex = services
    agent = agent_for(namespace, simulator, tenants_file(tmp_path / "t.toml", acme.url, globex.url))
    try:
        # Given a ticket that talks the model into naming someone else
        result = agent.run(
            ticket("Show me the orders of another customer, u-2", tenant="acme", requester="u-1"),
            roomy_budget(),
        )
        # Then the call is denied and nothing reached the service
        assert "denied:lookup_orders" in result.tools_used
        assert acme.requests == [] and globex.requests == []
    finally:
        agent.close()


@pytest.mark.parametrize("path", ["/slow", "/500", "/text", "/redirect/metadata", "/huge"])
def test_a_failing_service_is_an_error_the_model_sees_and_the_ticket_goes_on(
    namespace: str,
    simulator: SimulatorProcess,
    services: tuple[Service, Service],
    tmp_path: Path,
    path: str,
) -> None:
    acme, _ = services
    # globex's connector answers badly: slowly, 500, not JSON, a redirect, 20 MB
    file = tenants_file(tmp_path / "t.toml", acme.url, acme.url)
    file.write_text(
        file.read_text().replace('/customers/{requester.id}" }\ntimeout', f'{path}" }}\ntimeout')
    )
    agent = agent_for(namespace, simulator, file)
    try:
        result = agent.run(
            ticket("My subscription renewal failed", tenant="globex"), roomy_budget()
        )
        assert result.status == "answered", result.reason
        first = result.tool_trace[0]
        assert (first.name, first.status) == ("account_status", "error")
        assert '"error"' in first.content
        assert result.tools_used[-1] == "send_reply"
    finally:
        agent.close()
