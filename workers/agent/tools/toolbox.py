"""Dispatch one tool call: unknown tools and forged scopes are denied, bad arguments are an
error result for the model (never an exception), terminal tools are reported to the runner.

A ticket's tools are the agent's own (search, escalate, reply) and its own tenant's data
connectors: the connectors are looked up by the ticket's tenant, so no ticket can name, let
alone call, another tenant's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.connectors import ConnectorDirectory, Requester
from shared.models import Ticket
from workers.agent.budget import CallBudget
from workers.agent.context_window import MAX_TOOL_RESULT_BYTES
from workers.agent.tools.connectors import content_of
from workers.agent.tools.knowledge import TOP_K, Found, KnowledgeSearch, SearchArgs, search_result
from workers.agent.tools.schemas import ESCALATE, SEARCH, TOOL_NAMES, tool_schemas

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
    """The shared, read-only part (searcher, connectors, schemas); `bind` makes one ticket's
    tools. Without a `knowledge` searcher every search finds nothing (no help centre);
    without `connectors` no tenant has any."""

    def __init__(
        self,
        knowledge: KnowledgeSearch | None = None,
        connectors: ConnectorDirectory | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.connectors = connectors or ConnectorDirectory.empty()
        self.schemas: list[dict[str, Any]] = tool_schemas()

    def close(self) -> None:
        self.connectors.close()

    def schemas_for(self, tenant: str) -> list[dict[str, Any]]:
        """The tools a ticket of `tenant` is offered: its connectors, then the agent's own."""
        return [*self.connectors.schemas(tenant), *self.schemas]

    def largest_schemas(self) -> list[dict[str, Any]]:
        """The most any tenant is offered: what the context's shares are planned for."""
        return [*self.connectors.largest_schemas(), *self.schemas]

    def bind(
        self,
        ticket: Ticket,
        budget: CallBudget | None = None,
        *,
        result_bytes: int = MAX_TOOL_RESULT_BYTES,
    ) -> BoundTools:
        """One ticket's tools: searches read its tenant's help centre and pay from `budget`,
        connectors are its tenant's, read its requester and fit `result_bytes`."""
        requester = Requester(ticket.requester.id, ticket.requester.email)
        return BoundTools(self, ticket.tenant_id, requester, budget, result_bytes)


class BoundTools:
    def __init__(
        self,
        box: ToolBox,
        tenant_id: str,
        requester: Requester,
        budget: CallBudget | None = None,
        result_bytes: int = MAX_TOOL_RESULT_BYTES,
    ) -> None:
        self._box = box
        self.tenant_id = tenant_id
        self.requester = requester
        self._budget = budget
        self._result_bytes = result_bytes
        self._connectors = box.connectors.names(tenant_id)
        self.schemas = box.schemas_for(tenant_id)
        self._calls: dict[str, int] = {}

    def execute(self, name: str, raw_arguments: str) -> ToolOutcome:
        if name not in TOOL_NAMES and name not in self._connectors:
            return _error(name, "denied", f"unknown tool {name[:64]!r}: not executed")
        try:
            data = json.loads(raw_arguments or "{}")
        except ValueError:
            return _error(name, "error", "arguments are not valid JSON")
        if not isinstance(data, dict):
            return _error(name, "error", "arguments must be a JSON object")
        if name in self._connectors:
            return self._connector(name, data)
        try:
            return self._run(name, data)
        except ValidationError as exc:
            return _error(name, "error", _validation_message(exc))

    def _connector(self, name: str, data: dict[str, Any]) -> ToolOutcome:
        connector = self._box.connectors.get(self.tenant_id, name)
        limit = connector.spec.max_calls_per_ticket if connector else 0
        made = self._calls.get(name, 0)
        if made >= limit:
            return _error(name, "error", f"call limit reached: at most {limit} per ticket")
        self._calls[name] = made + 1
        result = self._box.connectors.call(self.tenant_id, name, data, self.requester)
        content, summary = content_of(name, result, self._result_bytes)
        return ToolOutcome(name, result.status, content, summary)

    def _run(self, name: str, data: dict[str, Any]) -> ToolOutcome:
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
