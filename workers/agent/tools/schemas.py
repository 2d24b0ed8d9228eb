"""The OpenAI function-tool schemas of the agent's own tools; names and fields follow the sim
policy. A tenant's data connectors (shared/connectors) are offered beside them."""

from __future__ import annotations

from typing import Any

SEARCH = "search_knowledge_base"
ESCALATE = "escalate_to_human"
REPLY = "send_reply"
TOOL_NAMES = (SEARCH, ESCALATE, REPLY)


def _fn(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


def tool_schemas() -> list[dict[str, Any]]:
    return [
        _fn(SEARCH, "Search the help-centre articles.", {"query": {"type": "string"}}, ["query"]),
        _fn(
            ESCALATE,
            "Hand the ticket to a human agent; give the reason.",
            {"reason": {"type": "string"}},
            ["reason"],
        ),
        _fn(
            REPLY,
            "Send the final answer to the customer; ends the conversation.",
            {"body": {"type": "string"}},
            ["body"],
        ),
    ]
