"""Dispatch one tool call: unknown tools and forged scopes are denied, bad arguments are an
error result for the model (never an exception), terminal tools are reported to the runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.models import Ticket
from workers.agent.budget import CallBudget
from workers.agent.tools.customers import CustomerStore, LookupArgs, denial, history
from workers.agent.tools.knowledge import TOP_K, Found, KnowledgeSearch, SearchArgs, search_result
from workers.agent.tools.schemas import ESCALATE, LOOKUP, REPLY, SEARCH, tool_schemas

MAX_REASON_CHARS = 200
MAX_REPLY_ARG_CHARS = 20_000


class EscalateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)


class ReplyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=MAX_REPLY_ARG_CHARS)


@dataclass(frozen=True)
class ToolOutcome:
    """One executed (or refused) call. `content` is what the model sees next turn."""

    name: str
    status: Literal["ok", "error", "denied"]
    content: str
    summary: str = ""
    reply: str | None = None  # set by send_reply: the run ends with this answer
    escalation: str | None = None  # set by escalate_to_human: the run ends with this reason
    found: tuple[Found, ...] = ()  # set by search_knowledge_base: articles a reply may cite


def _error(name: str, status: Literal["error", "denied"], message: str) -> ToolOutcome:
    return ToolOutcome(name, status, json.dumps({"error": message}), summary=f"{name}: {status}")


def _validation_message(exc: ValidationError) -> str:
    # Field locations and types only: the input values may hold ticket text.
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['type']}" for e in exc.errors()
    ]
    return "invalid arguments (" + "; ".join(parts[:5]) + ")"


class ToolBox:
    """The shared, read-only part (store, searcher, schemas); `bind` makes one ticket's tools.

    Without a `knowledge` searcher every search finds nothing (no help centre)."""

    def __init__(
        self, store: CustomerStore | None = None, knowledge: KnowledgeSearch | None = None
    ) -> None:
        self.store = store or CustomerStore.bundled()
        self.knowledge = knowledge
        self.schemas: list[dict[str, Any]] = tool_schemas()

    def bind(self, ticket: Ticket, budget: CallBudget | None = None) -> BoundTools:
        """One ticket's tools: searches read its tenant's help centre and pay from `budget`."""
        return BoundTools(self, ticket.tenant_id, ticket.requester.id, budget)


class BoundTools:
    def __init__(
        self,
        box: ToolBox,
        tenant_id: str,
        requester_id: str,
        budget: CallBudget | None = None,
    ) -> None:
        self._box = box
        self.tenant_id = tenant_id
        self.requester_id = requester_id
        self._budget = budget

    def execute(self, name: str, raw_arguments: str) -> ToolOutcome:
        if name not in (LOOKUP, SEARCH, ESCALATE, REPLY):
            return _error(name, "denied", f"unknown tool {name[:64]!r}: not executed")
        try:
            data = json.loads(raw_arguments or "{}")
        except ValueError:
            return _error(name, "error", "arguments are not valid JSON")
        if not isinstance(data, dict):
            return _error(name, "error", "arguments must be a JSON object")
        try:
            return self._run(name, data)
        except ValidationError as exc:
            return _error(name, "error", _validation_message(exc))

    def _run(self, name: str, data: dict[str, Any]) -> ToolOutcome:
        if name == LOOKUP:
            args = LookupArgs.model_validate(data)
            why = denial(args, self.tenant_id, self.requester_id)
            if why is not None:
                return _error(name, "denied", f"denied: this tool only reads this ticket's {why}")
            customer = self._box.store.get(self.tenant_id, self.requester_id)
            payload, summary = history(customer, args.kind)
            return ToolOutcome(name, "ok", json.dumps(payload, separators=(",", ":")), summary)
        if name == SEARCH:
            query = SearchArgs.model_validate(data).query
            knowledge = self._box.knowledge
            hits = (
                []
                if knowledge is None
                else knowledge.search(self.tenant_id, query, TOP_K, budget=self._budget)
            )
            payload, summary = search_result(hits)
            found = tuple(Found(h.id, h.title, h.url) for h in hits)
            content = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            return ToolOutcome(name, "ok", content, summary, found=found)
        if name == ESCALATE:
            reason = " ".join(EscalateArgs.model_validate(data).reason.split())[:MAX_REASON_CHARS]
            return ToolOutcome(name, "ok", '{"escalated":true}', "escalated", escalation=reason)
        body = ReplyArgs.model_validate(data).body
        return ToolOutcome(name, "ok", '{"sent":true}', "reply", reply=body)
