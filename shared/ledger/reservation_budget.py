"""A reservation as the agent sees it (the agent's `CallBudget`): draw before, settle after.

What is left of the envelope is known without reading the reservation again after each call:
the draw's script answers what is left after the hold, and a first settle of a call whose cost
is within its hold gives back exactly `hold - cost` (settle.lua: `taken + cost`, `drawn -
hold`). Anything else (a repeat settle, a cost above the hold, a call this object did not
draw) forgets the figure and the next `remaining_micros` reads it. The draw script stays the
authority: a figure that is too high only sizes a call the draw then refuses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.commands.core import Script

from shared.ledger.ledger import NO_TOKENS, CallTokens, DrawResult, Ledger


@dataclass
class ReservationBudget:
    """Call ids are prefixed with a per-attempt nonce so a redelivered ticket that reuses its
    reservation never collides with the calls of an earlier attempt."""

    ledger: Ledger
    reservation_id: str
    grant_micros: int
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    lost: bool = False
    # What is left, when known (a reservation admission has just made: its whole grant).
    _left_micros: int | None = None
    # Each drawn call's hold, until it is settled.
    _held: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fresh(cls, ledger: Ledger, reservation_id: str, grant_micros: int) -> ReservationBudget:
        """A reservation admission has just made (not one reused by a redelivery): nothing
        is drawn from it or taken yet, so its whole grant is left without a read."""
        budget = cls(ledger, reservation_id, grant_micros)
        budget._left_micros = grant_micros
        return budget

    def _call(self, call_id: str) -> str:
        return f"{self.nonce}:{call_id}"

    def draw(self, call_id: str, worst_micros: int) -> bool:
        result = self.ledger.draw(self.reservation_id, self._call(call_id), worst_micros)
        return self._drawn(call_id, worst_micros, result)

    def draw_script(self, call_id: str, worst_micros: int) -> tuple[Script, list[str], list[Any]]:
        """The draw as a script call for a shared round trip; pass its reply to `drawn_reply`
        (workers/call_records.py sends it with the circuit's check)."""
        return self.ledger.draw_script(self.reservation_id, self._call(call_id), worst_micros)

    def drawn_reply(self, call_id: str, worst_micros: int, reply: Any) -> bool:
        return self._drawn(call_id, worst_micros, self.ledger.draw_reply(reply))

    def _drawn(self, call_id: str, worst_micros: int, result: DrawResult) -> bool:
        self._left_micros = result.left_micros
        self.lost = self.lost or result.lost
        if result.ok:
            self._held[call_id] = worst_micros
        return result.ok

    def settle(self, call_id: str, cost_micros: int, tokens: CallTokens = NO_TOKENS) -> None:
        first = self.ledger.settle(self.reservation_id, self._call(call_id), cost_micros, tokens)
        self.settled(call_id, cost_micros, first)

    def settle_script(
        self, call_id: str, cost_micros: int, tokens: CallTokens = NO_TOKENS
    ) -> tuple[Script, list[str], list[Any]]:
        """The settle as a script call for a shared round trip; pass its reply to
        `settled_reply` (workers/call_records.py sends it with the circuit's record)."""
        return self.ledger.settle_script(
            self.reservation_id, self._call(call_id), cost_micros, tokens
        )

    def settled_reply(self, call_id: str, cost_micros: int, reply: Any) -> None:
        self.settled(call_id, cost_micros, self.ledger.settle_reply(reply))

    def settled(self, call_id: str, cost_micros: int, first: bool) -> None:
        held = self._held.pop(call_id, None)
        if (
            first
            and held is not None
            and 0 <= cost_micros <= held
            and self._left_micros is not None
        ):
            self._left_micros += held - cost_micros
        else:
            self._left_micros = None

    def remaining_micros(self) -> int:
        if self._left_micros is None:
            r = self.ledger.reservation(self.reservation_id)
            if r.get("state") != "open":
                return 0
            self._left_micros = int(r["grant"]) - int(r["taken"]) - int(r["drawn"])
        return self._left_micros
