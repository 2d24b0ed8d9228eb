"""Wires the agent from a worker's context (the agent package knows nothing of Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.agent.runner import Agent
    from workers.worker_context import WorkerContext


def build_agent(ctx: WorkerContext) -> Agent:
    from shared.stores.provider_limits import ProviderLimits
    from workers.agent.llm import Completion, LLMClient
    from workers.agent.runner import Agent
    from workers.agent.tools import ToolBox

    limits = ProviderLimits(ctx.redis, ctx.keys, ctx.clock)
    ctx.extras.setdefault("gates", []).append(limits)

    class ObservedLLMClient(LLMClient):
        """Every response's x-ratelimit-* headers feed the provider-limits gate, so
        admissions stay under the provider's tokens and requests per minute."""

        def complete(self, *args: Any, **kwargs: Any) -> Completion:
            completion = super().complete(*args, **kwargs)
            limits.observe(completion.headers)
            return completion

    return Agent(
        settings=ctx.settings,
        llm=ObservedLLMClient(ctx.settings),
        prices=ctx.prices,
        clock=ctx.clock,
        tools=ToolBox(),
        circuit=ctx.extras.get("circuit"),
    )
