"""The provider circuit breaker as the agent sees it (the worker implements it in Redis)."""

from __future__ import annotations

from typing import Protocol


class CircuitHook(Protocol):
    def allow(self) -> bool:
        """False while the circuit is open: the call is not made."""

    def record(self, ok: bool) -> None:
        """One attempt's outcome: False for a transient provider failure."""
