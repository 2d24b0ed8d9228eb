"""A tenant's data connectors as the agent's tools: one call's outcome, what the model sees.

A result reaches the model fenced as data, like ticket text: between `<connector_result>`
tags, as JSON in which every `<` is escaped (`\\u003c`), so nothing in a service's answer can
close the fence or open a tag of its own. Failures are error results the model sees (the
ticket goes on); the per-ticket call limit is counted by the bound tools.
"""

from __future__ import annotations

import json
from typing import Any

from shared.connectors import ConnectorResult

OPEN = '<connector_result tool="{name}">'
CLOSE = "</connector_result>"


def fenced(name: str, data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    return f"{OPEN.format(name=name)}\n{text}\n{CLOSE}"


def content_of(name: str, result: ConnectorResult) -> tuple[str, str]:
    """(the content the model sees, a one-line summary for an escalation's `gathered`)."""
    if result.status == "ok":
        return fenced(name, result.data), f"{name}: ok"
    return json.dumps({"error": result.error}), f"{name}: {result.status}"
