"""Build the worker's agent from its context: one LLM client and one tool box per process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workers.agent.llm import LLMClient
from workers.agent.runner import Agent
from workers.agent.tools import ToolBox

if TYPE_CHECKING:
    from workers.worker_context import WorkerContext


class _ContextCircuit:
    """Finds the circuit in the context's extras at call time: the worker may install it
    after the agent is built, and a worker without one calls the provider unguarded."""

    def __init__(self, extras: dict[str, Any]) -> None:
        self._extras = extras

    def allow(self) -> bool:
        circuit = self._extras.get("circuit")
        return True if circuit is None else bool(circuit.allow())

    def record(self, ok: bool) -> None:
        circuit = self._extras.get("circuit")
        if circuit is not None:
            circuit.record(ok)


def build_agent(ctx: WorkerContext) -> Agent:
    return Agent(
        settings=ctx.settings,
        llm=LLMClient(ctx.settings),
        prices=ctx.prices,
        clock=ctx.clock,
        tools=ToolBox(),
        circuit=_ContextCircuit(ctx.extras),
    )
