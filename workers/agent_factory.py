"""Wires the agent from a worker's context (the agent package knows nothing of Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workers.agent.runner import Agent
    from workers.context import WorkerContext


def build_agent(ctx: WorkerContext) -> Agent:
    from workers.agent.llm import LLMClient
    from workers.agent.runner import Agent
    from workers.agent.tools import ToolBox

    return Agent(
        settings=ctx.settings,
        llm=LLMClient(ctx.settings),
        prices=ctx.prices,
        clock=ctx.clock,
        tools=ToolBox(),
        circuit=ctx.extras.get("circuit"),
    )
