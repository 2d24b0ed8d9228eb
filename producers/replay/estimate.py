"""What a replay would cost, before it runs: a likely figure and a worst case, in micro-dollars.

Likely: `typical_tokens` of the ticket block plus a typical system prompt and tool schemas,
over the calls the agent usually makes (look up, search, reply), each with a short answer.
Worst: `prompt_tokens_upper_bound` of the ticket block plus a byte bound for the rest, over
`max_steps` calls each producing `max_output_tokens`, but never more than the ticket's
`request_token_cap` in all: admission refuses to spend past it. Within that cap the bound puts
the output-priced tokens first, which is the dearest split while output costs at least input.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.estimate import prompt_tokens_upper_bound, typical_tokens
from shared.models import Ticket
from shared.pricing import PriceTable, Usage
from shared.settings import Settings

LIKELY_CALLS = 3
LIKELY_OVERHEAD_TOKENS = 700  # system prompt + four tool schemas, per call
LIKELY_REPLY_TOKENS = 120  # per call: tool arguments, then the reply
OVERHEAD_BOUND_TOKENS = 4_000  # bytes of the system prompt + tool schemas + history, per call


def ticket_block(ticket: Ticket) -> str:
    return f"<ticket>\n{ticket.subject}\n\n{ticket.body}\n</ticket>"


@dataclass
class CostEstimate:
    tickets: int = 0
    likely_micros: int = 0
    worst_micros: int = 0


class ReplayEstimator:
    def __init__(self, settings: Settings, prices: PriceTable) -> None:
        self._settings = settings
        self._prices = prices
        self._model = settings.model
        prices.price(self._model)  # fail before reading a 1 GB file, not after
        self.total = CostEstimate()

    def add(self, ticket: Ticket) -> None:
        block = ticket_block(ticket)
        s = self._settings
        likely_prompt = LIKELY_CALLS * (typical_tokens(block) + LIKELY_OVERHEAD_TOKENS)
        likely = Usage(
            prompt_tokens=likely_prompt, completion_tokens=LIKELY_CALLS * LIKELY_REPLY_TOKENS
        )
        prompt_ub = s.max_steps * (
            prompt_tokens_upper_bound([{"content": block}]) + OVERHEAD_BOUND_TOKENS
        )
        output_ub = min(s.max_steps * s.max_output_tokens, s.request_token_cap)
        prompt_ub = min(prompt_ub, s.request_token_cap - output_ub)
        self.total.tickets += 1
        self.total.likely_micros += self._prices.cost_micros(self._model, likely)
        self.total.worst_micros += self._prices.worst_case_micros(self._model, prompt_ub, output_ub)

    def ceiling_micros(self) -> int:
        return self._settings.ceiling_micros

    def replay_budget_micros(self) -> int:
        """What replay may spend in a day: the ceiling minus the live lane's reserve."""
        s = self._settings
        return s.ceiling_micros * (100 - s.live_reserve_pct) // 100
