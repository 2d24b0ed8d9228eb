"""The money a ticket may spend on model calls: draw the worst case before, settle after.

The worker's Redis ledger implements `CallBudget` against the ticket's reservation; the
in-memory `LocalBudget` is the same contract for the agent's own tests and benchmarks.
"""

from __future__ import annotations

import threading
from typing import Protocol

from shared.ledger import NO_TOKENS, CallTokens


class CallBudget(Protocol):
    def draw(self, call_id: str, worst_micros: int) -> bool:
        """Hold `worst_micros` for one call; False when it does not fit (stop and escalate)."""

    def settle(self, call_id: str, cost_micros: int, tokens: CallTokens = NO_TOKENS) -> None:
        """Replace the call's hold by what it cost; a second settle of one call is a no-op.
        `tokens` (what the provider's usage said, the model) go to the spend history."""

    def remaining_micros(self) -> int:
        """What a new draw could still hold."""


class LocalBudget:
    """An envelope in memory: spent + held never passes `envelope_micros`; thread-safe."""

    def __init__(self, envelope_micros: int) -> None:
        self.envelope_micros = envelope_micros
        self._held: dict[str, int] = {}
        self._settled: dict[str, int] = {}
        self._lock = threading.Lock()

    def draw(self, call_id: str, worst_micros: int) -> bool:
        with self._lock:
            if call_id in self._held or call_id in self._settled:
                return False
            if worst_micros < 0 or worst_micros > self._remaining_locked():
                return False
            self._held[call_id] = worst_micros
            return True

    def settle(self, call_id: str, cost_micros: int, tokens: CallTokens = NO_TOKENS) -> None:
        with self._lock:
            if call_id in self._settled:
                return
            # Settling more than was drawn is recorded as is: the provider's bill is the truth.
            self._held.pop(call_id, None)
            self._settled[call_id] = max(cost_micros, 0)

    def remaining_micros(self) -> int:
        with self._lock:
            return self._remaining_locked()

    @property
    def spent_micros(self) -> int:
        with self._lock:
            return sum(self._settled.values())

    @property
    def held_micros(self) -> int:
        with self._lock:
            return sum(self._held.values())

    @property
    def draws(self) -> int:
        with self._lock:
            return len(self._held) + len(self._settled)

    def _remaining_locked(self) -> int:
        used = sum(self._held.values()) + sum(self._settled.values())
        return max(self.envelope_micros - used, 0)
