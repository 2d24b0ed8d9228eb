"""What one run of the agent produced, and the running tally it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from shared.pricing import Usage
from shared.tenants import DEFAULT_PROFILE, Tenant
from workers.agent.tools.knowledge import Found

MAX_GATHERED_CHARS = 500
# Tools whose result is not data about the ticket (a search grounds a reply by its citations).
_NOT_DATA = frozenset({"search_knowledge_base", "send_reply", "escalate_to_human"})


class ToolTrace(BaseModel):
    """One tool call as executed or refused. Holds customer data: never log or store it."""

    name: str
    arguments: str
    status: Literal["ok", "error", "denied"]
    content: str


class AgentResult(BaseModel):
    status: Literal["answered", "escalated"]
    reply: str | None = None
    reason: str | None = None
    steps: int = 0
    llm_calls: int = 0
    attempts: int = 0
    tools_used: list[str] = Field(default_factory=list)
    denied_calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    # Calls the provider answered without a usable `usage`: each was billed at its worst case.
    usage_missing: int = 0
    model: str
    latency_ms: int = 0
    gathered: str | None = None
    # The help-centre articles the reply cites (by title or URL), from this run's searches.
    articles: list[str] = Field(default_factory=list)
    # The reply cites an article or rests on a data tool's answer (`public_when_grounded`).
    grounded: bool = False
    # Excluded from dumps: the actor maps the fields above onto an Outcome; this is for tests
    # and audits in-process only.
    tool_trace: list[ToolTrace] = Field(default_factory=list, exclude=True)


class StopRun(Exception):  # a control-flow signal, not an error: not in shared/errors
    """Raised inside a run when a bound is reached: the run escalates with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RunState:
    """The per-run tally; one per `Agent.run`, never shared between threads."""

    run_id: str
    model: str
    deadline_s: float
    started_s: float
    steps: int = 0
    llm_calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    usage_missing: int = 0
    denied_calls: int = 0
    tools_used: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    trace: list[ToolTrace] = field(default_factory=list)
    found: list[Found] = field(default_factory=list)  # every article a search returned
    # The ticket's tenant profile and system prompt, as this run uses them.
    profile: Tenant = DEFAULT_PROFILE
    system: str | None = None

    def evidence(self) -> list[str]:
        """What this run's tools returned: where a reply's ids and addresses may come from."""
        return [t.content for t in self.trace if t.status == "ok"]

    def data_returned(self) -> bool:
        """A data tool (the customer look-up, a tenant's connector) answered this ticket."""
        return any(t.status == "ok" and t.name not in _NOT_DATA for t in self.trace)

    def add_usage(self, usage: Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.cached_tokens += usage.cached_tokens
        self.completion_tokens += usage.completion_tokens

    def gathered(self) -> str | None:
        unique = list(dict.fromkeys(s for s in self.summaries if s))
        return "; ".join(unique)[:MAX_GATHERED_CHARS] or None

    def result(
        self,
        status: Literal["answered", "escalated"],
        now_s: float,
        *,
        reply: str | None = None,
        reason: str | None = None,
        articles: list[str] | None = None,
        grounded: bool = False,
    ) -> AgentResult:
        return AgentResult(
            status=status,
            reply=reply,
            reason=reason,
            steps=self.steps,
            llm_calls=self.llm_calls,
            attempts=self.attempts,
            tools_used=list(self.tools_used),
            denied_calls=self.denied_calls,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            completion_tokens=self.completion_tokens,
            cost_micros=self.cost_micros,
            usage_missing=self.usage_missing,
            model=self.model,
            latency_ms=max(int((now_s - self.started_s) * 1000), 0),
            gathered=self.gathered() if status == "escalated" else None,
            tool_trace=list(self.trace),
            articles=list(articles or ()),
            grounded=grounded,
        )
