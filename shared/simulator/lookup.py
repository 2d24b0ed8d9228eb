"""Which offered tool the simulated model uses to look a customer up, and with what arguments.

The agent's lookups are tenants' data connectors, each named and described by its tenant, so
the policy picks by meaning as a model would: `lookup_customer_history` when offered, else the
first tool whose name or description speaks of orders, accounts or customers. Its arguments
are built from the tool's declared parameters (an enum takes "all" when it offers it, else its
first value; a string an order-like id from the ticket, else its keywords). The injection rules
add the ids they forge on top, as a gullible model would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.simulator.ticket import TicketText

PREFERRED = "lookup_customer_history"
OWN_TOOLS = ("search_knowledge_base", "escalate_to_human", "send_reply")
LOOKUP_WORDS = ("order", "account", "customer", "purchase", "subscription", "lookup", "look up")
_ORDER_ID = re.compile(r"\b[A-Z]{2,5}-\d{2,}\b")


@dataclass(frozen=True, slots=True)
class LookupTool:
    name: str
    properties: Mapping[str, Any]
    required: tuple[str, ...]


def lookup_tool(tools: Sequence[Mapping[str, Any]] | None) -> LookupTool | None:
    found: list[LookupTool] = []
    for tool in tools or ():
        function = tool.get("function")
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            continue
        name = function["name"]
        if name in OWN_TOOLS:
            continue
        about = f"{name.replace('_', ' ')} {function.get('description') or ''}".lower()
        if name != PREFERRED and not any(w in about for w in LOOKUP_WORDS):
            continue
        params = function.get("parameters")
        params = params if isinstance(params, Mapping) else {}
        props = params.get("properties")
        required = params.get("required")
        found.append(
            LookupTool(
                name,
                props if isinstance(props, Mapping) else {},
                tuple(r for r in required or () if isinstance(r, str)),
            )
        )
    preferred = [t for t in found if t.name == PREFERRED]
    ranked = preferred or found
    return ranked[0] if ranked else None


def lookup_arguments(tool: LookupTool, ticket: TicketText, forged: Mapping[str, str]) -> str:
    args: dict[str, Any] = {}
    for name, schema in tool.properties.items():
        if name not in tool.required and name != "kind":
            continue
        value = _value(schema if isinstance(schema, Mapping) else {}, ticket)
        if value is not None:
            args[name] = value
    args.update(forged)
    return json.dumps(args, ensure_ascii=False)


def _value(schema: Mapping[str, Any], ticket: TicketText) -> Any:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return "all" if "all" in enum else enum[0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return 1
    if kind == "string":
        order = _ORDER_ID.search(ticket.text)
        return order.group(0) if order else ticket.keywords()
    return None
