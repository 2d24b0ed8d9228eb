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
from workers.agent.prompt import truncate

OPEN = '<connector_result tool="{name}">'
CLOSE = "</connector_result>"


def fenced(name: str, data: Any, max_bytes: int) -> str:
    """The fenced result in at most `max_bytes` UTF-8 bytes: a result too long for its share
    of the context is cut inside the fence, with a note of what was cut, so the fence always
    closes."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    head = OPEN.format(name=name)
    room = max_bytes - len(head.encode()) - len(CLOSE) - 2
    return f"{head}\n{truncate(text, max(room, 0))}\n{CLOSE}"


def content_of(name: str, result: ConnectorResult, max_bytes: int) -> tuple[str, str]:
    """(the content the model sees, a one-line summary for an escalation's `gathered`)."""
    if result.status == "ok":
        return fenced(name, result.data, max_bytes), f"{name}: ok"
    return json.dumps({"error": result.error}), f"{name}: {result.status}"
