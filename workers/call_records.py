"""The worker's writes around each model call, one Redis round trip before and one after.

Before: the circuit's check and the draw. After: the settle, the circuit's record of the
attempt and the provider's rate-limit headers. Each is still its own atomic script or command
(the draw's and the settle's scripts alone move money, as before); sending them together only
saves the round trips the circuit and the limits cost on their own.

The check and the draw go together only while this process last saw the circuit closed (every
call, in steady state). If the circuit turned out to refuse the call, the draw already made is
settled at nothing, so no money stays held for a call that was never made; while the circuit
is not closed the check goes first and alone, as a call that may not go should hold nothing.
A budget that is not a reservation (a test's `LocalBudget`) gets each write on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.ledger import CallTokens, Ledger, ReservationBudget
from shared.stores.circuit import ProviderCircuit
from shared.stores.provider_limits import ProviderLimits
from workers.agent.budget import CallBudget
from workers.agent.call_hooks import Go, SeparateWrites


class CallRecords:
    """The worker's `CallHooks` (workers/agent/call_hooks.py)."""

    def __init__(
        self, circuit: ProviderCircuit, limits: ProviderLimits, ledger: Ledger | None = None
    ) -> None:
        self._circuit = circuit
        self._limits = limits
        self._ledger = ledger
        self._separate = SeparateWrites(circuit)
        # What the last check in this process answered (threads race on it harmlessly).
        self._closed = True

    def before(self, budget: CallBudget, call_id: str, worst_micros: int) -> Go:
        if self._ledger is None or not isinstance(budget, ReservationBudget) or not self._closed:
            go = self._separate.before(budget, call_id, worst_micros)
            self._closed = go != "circuit_open"
            return go
        trip = self._ledger.round_trip()
        script, keys, args = self._circuit.allow_script()
        trip.script(script, keys, args)
        trip.script(*budget.draw_script(call_id, worst_micros))
        checked, drew = trip.execute()
        allowed = self._circuit.allowed(checked, args)
        self._closed = allowed and int(checked) == 1
        drawn = budget.drawn_reply(call_id, worst_micros, drew)
        if not allowed:
            if drawn:
                budget.settle(call_id, 0)  # no call: its hold goes back whole
            return "circuit_open"
        return "go" if drawn else "no_money"

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
        limits = None if headers is None else self._limits.observe_command(headers)
        if self._ledger is None or not isinstance(budget, ReservationBudget):
            self._separate.after(budget, call_id, cost_micros, tokens, ok=ok)
            if headers is not None:
                self._limits.observe(headers)
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
