"""How much a ticket may cost: its envelope per candidate model, or a reason to reject it.

The full envelope is `PACELINE_REQUEST_TOKEN_CAP` tokens priced at the model's output rate
(the dearest kind, so it bounds any mix of input and output). The least worth admitting is
one call with the ticket's prompt and a short answer: below that the ticket cannot be
answered at all, so admission defers instead of handing out an envelope the agent can't use.
"""

from __future__ import annotations

from shared.ledger import Candidate
from shared.pricing import PriceTable
from shared.settings import Settings, price_table, stepping_ladder

# The shortest answer worth paying for; the agent shrinks max_tokens down to this.
MIN_ANSWER_TOKENS = 128


def candidates_for(
    prompt_tokens_bound: int, settings: Settings, prices: PriceTable, models: list[str]
) -> list[Candidate] | None:
    """None when even the smallest answer would exceed the per-request token cap."""
    if prompt_tokens_bound + MIN_ANSWER_TOKENS > settings.request_token_cap:
        return None
    out: list[Candidate] = []
    for model in models:
        full = prices.worst_case_micros(model, 0, settings.request_token_cap)
        minimum = prices.worst_case_micros(model, prompt_tokens_bound, MIN_ANSWER_TOKENS)
        out.append(Candidate(model=model, full_micros=full, min_micros=min(minimum, full)))
    return out


def model_ladder(settings: Settings, prices: PriceTable | None = None) -> list[str]:
    """The default model first, then the configured cheaper ones (no repeats; a model dearer
    than the default is left out, as the warning at start says)."""
    return stepping_ladder(settings, prices or price_table(settings))
