"""Prices per model per token kind, and the cost of a provider's `usage` in micro-dollars.

Prices are stored as micro-dollars per 1M tokens (an integer: $2.50 -> 2_500_000), so the
cost of a call is `tokens * price // 1M` in integers with a ceiling, never a float.
Operators override or add models with a JSON file (`PACELINE_PRICING_FILE`):
`{"my-model": {"input": 1.0, "cached_input": 0.25, "output": 4.0}}` (USD per 1M tokens).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.errors import SettingsError
from shared.money import usd_to_micros

TOKENS_PER_PRICE_UNIT = 1_000_000
BATCH_DISCOUNT_PCT = 50


@dataclass(frozen=True)
class ModelPrice:
    """Micro-dollars per 1M tokens of each kind."""

    input: int
    cached_input: int
    output: int

    @classmethod
    def from_usd(cls, input_usd: str, cached_usd: str, output_usd: str) -> ModelPrice:
        return cls(usd_to_micros(input_usd), usd_to_micros(cached_usd), usd_to_micros(output_usd))

    def batch(self) -> ModelPrice:
        """Batch API pricing: half of every kind."""
        f = 100 - BATCH_DISCOUNT_PCT
        return ModelPrice(
            self.input * f // 100, self.cached_input * f // 100, self.output * f // 100
        )


# Public list prices, USD per 1M tokens (input / cached input / output). They change:
# operators override them with a pricing file rather than waiting for a release.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-4o": ModelPrice.from_usd("2.50", "1.25", "10"),
    "gpt-4o-mini": ModelPrice.from_usd("0.15", "0.075", "0.60"),
    "gpt-4.1": ModelPrice.from_usd("2.00", "0.50", "8"),
    "gpt-4.1-mini": ModelPrice.from_usd("0.40", "0.10", "1.60"),
    "gpt-4.1-nano": ModelPrice.from_usd("0.10", "0.025", "0.40"),
    "gpt-4-turbo": ModelPrice.from_usd("10", "10", "30"),
}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Usage:
    """The billable parts of a provider's `usage` block."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0  # already includes reasoning tokens, which bill as output

    @classmethod
    def from_openai(cls, usage: Any) -> Usage:
        if usage is None:
            return cls()
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0) if details else 0
        return cls(
            prompt_tokens=int(usage.prompt_tokens or 0),
            cached_tokens=cached,
            completion_tokens=int(usage.completion_tokens or 0),
        )


class PriceTable:
    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self._prices = dict(prices)

    @classmethod
    def load(cls, override_file: Path | None = None) -> PriceTable:
        prices = dict(DEFAULT_PRICES)
        if override_file is not None:
            prices.update(_read_override(override_file))
        return cls(prices)

    def models(self) -> list[str]:
        return sorted(self._prices)

    def price(self, model: str) -> ModelPrice:
        try:
            return self._prices[model]
        except KeyError:
            # Dated snapshots ("gpt-4o-mini-2024-07-18") bill as their family.
            for name in sorted(self._prices, key=len, reverse=True):
                if model.startswith(name + "-"):
                    return self._prices[name]
            raise SettingsError(f"PACELINE_PRICING_FILE: no price for model {model!r}") from None

    def cost_micros(self, model: str, usage: Usage, *, batch: bool = False) -> int:
        """What the provider bills for `usage`, rounded up to the next micro-dollar."""
        p = self.price(model)
        if batch:
            p = p.batch()
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        numerator = fresh * p.input + cached * p.cached_input + usage.completion_tokens * p.output
        return _ceil_div(numerator, TOKENS_PER_PRICE_UNIT)

    def worst_case_micros(self, model: str, prompt_tokens: int, max_completion_tokens: int) -> int:
        """An upper bound: every prompt token billed uncached, every output token produced."""
        p = self.price(model)
        numerator = prompt_tokens * p.input + max_completion_tokens * p.output
        return _ceil_div(numerator, TOKENS_PER_PRICE_UNIT)


def _read_override(path: Path) -> dict[str, ModelPrice]:
    try:
        raw = json.loads(path.read_text())
        return {
            name: ModelPrice.from_usd(
                str(Decimal(str(p["input"]))),
                str(Decimal(str(p.get("cached_input", p["input"])))),
                str(Decimal(str(p["output"]))),
            )
            for name, p in raw.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(f"PACELINE_PRICING_FILE: cannot read {path}: {exc}") from None
