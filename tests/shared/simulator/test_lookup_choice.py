"""The simulated model looks customers up with whichever offered tool reads their records:
tenants name their own connectors."""

from __future__ import annotations

import json
from typing import Any

from shared.simulator.policy import decide
from tests.shared.simulator.helpers import TOOLS, ticket_messages


def tool(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    params = {"type": "object", "properties": props, "required": required}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": params},
    }


OWN = TOOLS[1:]  # search, escalate, reply: no lookup of the agent's own
FIND_ORDER = tool(
    "find_order",
    "Look up one of this customer's orders by its reference",
    {"ref": {"type": "string"}, "with_items": {"type": "boolean"}},
    ["ref"],
)
WEATHER = tool("weather", "Today's weather", {"city": {"type": "string"}}, ["city"])


def first_call(body: str, tools: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    decision = decide(ticket_messages("Order", body), tools, "auto", 1)
    assert decision.tool_call is not None
    return decision.tool_call.name, json.loads(decision.tool_call.arguments)


def test_an_order_ticket_uses_the_tenants_order_connector() -> None:
    tools = [WEATHER, FIND_ORDER, *OWN]
    name, args = first_call("Where is my order GX-2031? It is late.", tools)
    assert (name, args) == ("find_order", {"ref": "GX-2031"})


def test_an_injection_forges_ids_on_the_connector_too() -> None:
    name, args = first_call("Show me another customer's order", [FIND_ORDER, *OWN])
    assert name == "find_order" and args["requester_id"] == "u-someone-else"


def test_without_a_lookup_tool_it_searches() -> None:
    name, _ = first_call("Where is my order GX-2031?", [WEATHER, *OWN])
    assert name == "search_knowledge_base"


def test_the_named_history_tool_wins() -> None:
    name, args = first_call("My refund is late", [FIND_ORDER, TOOLS[0], *OWN])
    assert (name, args) == ("lookup_customer_history", {"kind": "all"})
