"""Who pays for provider embeddings, and how much, in integer micro-dollars.

At import (and for a search run from the command line) there is no ticket: the spend goes in
the day's books under a scope of its own, `kb:<tenant>`, and counts against the global
ceiling. The worst case (every byte a token) is charged first, only if it fits what is left;
the margin is given back once the provider's `usage` says what it billed. An import that
dies in between leaves its worst case charged: the books never show less than was spent.
A ticket's search draws its query's embedding from the ticket's own reservation instead.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Protocol

import redis

from shared.clock import Clock, budget_day
from shared.keys import Keys
from shared.pricing import PriceTable, Usage
from shared.settings import Settings


class CallBudget(Protocol):
    """The agent's budget contract: hold a call's worst case, then settle what it cost."""

    def draw(self, call_id: str, worst_micros: int) -> bool: ...

    def settle(self, call_id: str, cost_micros: int) -> None: ...


def embedding_cost_micros(prices: PriceTable, model: str, tokens: int) -> int:
    return prices.cost_micros(model, Usage(prompt_tokens=tokens))


def _source() -> str:
    common = (resources.files("shared.ledger") / "common.lua").read_text()
    return common + "\n" + (resources.files("shared.knowledge") / "charge.lua").read_text()


class KnowledgeSpend:
    """A `CallBudget` on the day's books for spend outside a ticket; thread-safe."""

    def __init__(
        self, client: redis.Redis, keys: Keys, settings: Settings, clock: Clock, tenant: str
    ) -> None:
        self.scope = f"kb:{tenant}"
        self.left_micros = 0  # what was left of the ceiling at the last draw
        self._r = client
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._script = client.register_script(_source())
        self._held: dict[str, tuple[str, int]] = {}  # call id -> (day, micros charged)
        self._lock = threading.Lock()

    def draw(self, call_id: str, worst_micros: int) -> bool:
        day = budget_day(self._clock.now_s(), self._settings.tz)
        ok, left = self._run(day, worst_micros, "hold")
        self.left_micros = left
        if ok:
            with self._lock:
                self._held[call_id] = (day, worst_micros)
        return ok

    def settle(self, call_id: str, cost_micros: int) -> None:
        with self._lock:
            held = self._held.pop(call_id, None)
        if held is None:
            return
        day, charged = held
        if cost_micros != charged:  # the margin back (or more charged: the bill is the truth)
            self._run(day, cost_micros - charged, "adjust")

    def _run(self, day: str, micros: int, mode: str) -> tuple[bool, int]:
        keys = [self._keys.books(day), self._keys.caps]
        args: list[str | int] = [self.scope, micros, self._settings.ceiling_micros, mode]
        ok, left = self._script(keys=keys, args=args)  # type: ignore[misc]
        return int(ok) == 1, int(left)
