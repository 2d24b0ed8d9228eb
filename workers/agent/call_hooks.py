"""What comes before and after every model call attempt, as one step each.

Before: the circuit's check (is the provider open to calls?) and the draw of the call's worst
case from the envelope, in that order of meaning: a refused circuit makes no call and holds
no money. After: the settle (always), the circuit's record of the attempt (`ok`; None records
nothing) and the provider's rate-limit headers (a response's). The agent's own default makes
each write on its own; the worker sends each step's writes to Redis in one round trip
(workers/call_records.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from shared.ledger import CallTokens
from workers.agent.budget import CallBudget
from workers.agent.circuit_hook import CircuitHook

Go = Literal["go", "circuit_open", "no_money"]


class CallHooks(Protocol):
    def before(self, budget: CallBudget, call_id: str, worst_micros: int) -> Go:
        """ "go" once the circuit allowed the call and its worst case is drawn."""

    def after(
        self,
        budget: CallBudget,
        call_id: str,
        cost_micros: int,
        tokens: CallTokens,
        *,
        ok: bool | None,
        headers: Mapping[str, str] | None = None,
    ) -> None: ...


class SeparateWrites:
    """Each write on its own (the agent's tests and benchmarks; a budget in memory)."""

    def __init__(self, circuit: CircuitHook | None) -> None:
        self._circuit = circuit

    def before(self, budget: CallBudget, call_id: str, worst_micros: int) -> Go:
        if self._circuit is not None and not self._circuit.allow():
            return "circuit_open"
        return "go" if budget.draw(call_id, worst_micros) else "no_money"

    def after(
        self,
        budget: CallBudget,
        call_id: str,
        cost_micros: int,
        tokens: CallTokens,
        *,
        ok: bool | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        budget.settle(call_id, cost_micros, tokens)
        if ok is not None and self._circuit is not None:
            self._circuit.record(ok)
