"""What follows each model call in a worker, in one Redis round trip: the call's settle, the
provider circuit's record of the attempt and the provider's rate-limit headers.

Each is still its own atomic script or command (the settle's script alone moves money, as
before); sending them together only saves the two round trips the circuit and the limits
cost on their own. A budget that is not a reservation (a test's `LocalBudget`) is settled on
its own and the other two are written one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.ledger import CallTokens, Ledger, ReservationBudget
from shared.stores.circuit import ProviderCircuit
from shared.stores.provider_limits import ProviderLimits
from workers.agent.budget import CallBudget


class CallRecords:
    """The worker's `AfterCall` (workers/agent/caller.py)."""

    def __init__(
        self, circuit: ProviderCircuit, limits: ProviderLimits, ledger: Ledger | None = None
    ) -> None:
        self._circuit = circuit
        self._limits = limits
        self._ledger = ledger

    def __call__(
        self,
        budget: CallBudget,
        call_id: str,
        cost_micros: int,
        tokens: CallTokens,
        *,
        ok: bool | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        limits = None if headers is None else self._limits.observe_command(headers)
        if self._ledger is None or not isinstance(budget, ReservationBudget):
            budget.settle(call_id, cost_micros, tokens)
            if ok is not None:
                self._circuit.record(ok)
            if limits is not None:
                self._limits.observe(headers or {})
            return
        trip = self._ledger.round_trip()
        trip.script(*budget.settle_script(call_id, cost_micros, tokens))
        if ok is not None:
            trip.script(*self._circuit.record_script(ok))
        if limits is not None:
            trip.command(*limits)
        settle, *others = trip.execute()
        budget.settled_reply(call_id, cost_micros, settle)
        for reply in others:
            if isinstance(reply, Exception):
                raise reply
