"""One run of a tenant's agent outside the queue: what `paceline try` prints.

The tenant's prompt, model, help centre and tools, against the configured provider, with one
ticket's envelope held in memory (the ledger is not asked and nothing is posted back): an
operator tries a profile change before a customer sees it. The run's cost is real provider
spend, bounded by the envelope.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.clock import SystemClock
from shared.connectors import ConnectorCaller, ConnectorDirectory
from shared.models import Requester, Ticket
from shared.outbound import OutboundClient
from shared.settings import Settings, price_table
from shared.tenants import TenantRegistry, load_tenants
from shared.tenants.rollout import in_rollout
from workers.agent.budget import LocalBudget
from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox
from workers.worker_context import build_knowledge

MAX_QUESTION_CHARS = 20_000


def try_tenant(settings: Settings, tenant: str, question: str, *, client: Any) -> dict[str, Any]:
    """Run the agent once for `question` as `tenant`'s ticket; the result as a JSON document."""
    from shared.keys import Keys

    clock = SystemClock()
    prices = price_table(settings)
    registry = TenantRegistry(load_tenants(settings, prices=prices))
    tenants = registry.current()
    profile = tenants.profile(tenant)
    knowledge = build_knowledge(settings, client, Keys(settings.namespace), clock, prices)
    http = OutboundClient(allow_private=settings.allow_private_networks)
    connectors = ConnectorDirectory(tenants.connectors, ConnectorCaller(http, clock))
    agent = Agent(
        settings=settings,
        llm=LLMClient(settings),
        prices=prices,
        clock=clock,
        tools=ToolBox(knowledge=knowledge, connectors=connectors),
        secrets=tenants.secret_values(),
        tenants=registry,
    )
    n = uuid.uuid4().hex[:12]
    ticket = Ticket(
        event_id=f"try-{n}",
        ticket_id=f"try-{n}",
        tenant_id=tenant,
        requester=Requester(id="try"),
        subject=" ".join(question.split())[:200] or "question",
        body=question[:MAX_QUESTION_CHARS],
    )
    model = profile.model or settings.model
    budget = LocalBudget(prices.worst_case_micros(model, 0, settings.request_token_cap))
    try:
        result = agent.run(ticket, budget, model=model)
    finally:
        agent.close()
        knowledge.close()
        http.close()
    answered = result.status == "answered"
    return {
        "tenant": tenant,
        "known_tenant": tenant in tenants.file.tenants,
        "status": result.status,
        "reason": result.reason,
        "reply": result.reply,
        "articles": list(result.articles),
        "tools_used": list(result.tools_used),
        "grounded": result.grounded,
        "visibility": (
            profile.visibility(answered=answered, grounded=result.grounded)
            if result.reply
            else None
        ),
        "reply_mode": profile.reply_mode,
        "in_rollout": in_rollout(profile, ticket),
        "model": result.model,
        "llm_calls": result.llm_calls,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost_micros": result.cost_micros,
        "posted": False,
    }
