"""Prices per model per token kind, and the cost of a provider's `usage` in micro-dollars.

Prices are stored as micro-dollars per 1M tokens (an integer: $2.50 -> 2_500_000), so the
cost of a call is `tokens * price // 1M` in integers with a ceiling, never a float.
Operators override or add models with a JSON file (`PACELINE_PRICING_FILE`):
`{"my-model": {"input": 1.0, "cached_input": 0.25, "output": 4.0}}` (USD per 1M tokens).

Aliases name a priced model under another name: an Azure deployment or a gateway's model
name (`PACELINE_MODEL_ALIASES='{"my-gpt4o-deployment": "gpt-4o"}'`, or the same object under
`"aliases"` in the pricing file). A request goes out under the alias; it is priced as the
model the alias names. `require_priced` is what every process runs at start, so a model
without a price stops it there instead of failing every ticket later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.errors import SettingsError
from shared.money import usd_to_micros

TOKENS_PER_PRICE_UNIT = 1_000_000
BATCH_DISCOUNT_PCT = 50
# A typical ticket's usage (all its calls): what models are compared by before settled
# calls say better (the ladder's order at start, the forecast's first guess).
TYPICAL_PROMPT_TOKENS = 6_000
TYPICAL_COMPLETION_TOKENS = 600


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
    # Embeddings bill input tokens only.
    "text-embedding-3-small": ModelPrice.from_usd("0.02", "0.02", "0"),
    "text-embedding-3-large": ModelPrice.from_usd("0.13", "0.13", "0"),
    "text-embedding-ada-002": ModelPrice.from_usd("0.10", "0.10", "0"),
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
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            cached_tokens=cached,
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )


ALIASES_KEY = "aliases"  # the pricing file's object of alias -> priced model


class PriceTable:
    def __init__(
        self, prices: dict[str, ModelPrice], aliases: Mapping[str, str] | None = None
    ) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases or {})
        for alias, target in self._aliases.items():
            if self._lookup(target) is None:
                raise SettingsError(
                    f"PACELINE_MODEL_ALIASES: alias {alias!r} names {target!r}, which has no price"
                )

    @classmethod
    def load(
        cls, override_file: Path | None = None, aliases: Mapping[str, str] | None = None
    ) -> PriceTable:
        """The list prices, the pricing file's overrides and aliases, then `aliases` (the
        setting), which win over the file's."""
        prices = dict(DEFAULT_PRICES)
        merged: dict[str, str] = {}
        if override_file is not None:
            file_prices, file_aliases = _read_override(override_file)
            prices.update(file_prices)
            merged.update(file_aliases)
        merged.update(aliases or {})
        return cls(prices, merged)

    def models(self) -> list[str]:
        return sorted(self._prices)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def priced_as(self, model: str) -> str:
        """The priced model a request under `model` bills as (itself when not an alias)."""
        return self._aliases.get(model, model)

    def require_priced(self, models: Iterable[str], setting_name: str) -> None:
        """Raise SettingsError (one line naming the setting and the model) unless every model
        is priced, directly, as a dated snapshot of a priced family, or through an alias."""
        for model in models:
            if self._lookup(self.priced_as(model)) is None:
                raise SettingsError(
                    f"{setting_name}: no price for model {model!r}; add it to "
                    "PACELINE_PRICING_FILE or map it to a priced model in PACELINE_MODEL_ALIASES"
                )

    def price(self, model: str) -> ModelPrice:
        found = self._lookup(self.priced_as(model))
        if found is None:
            raise SettingsError(f"PACELINE_PRICING_FILE: no price for model {model!r}")
        return found

    def _lookup(self, model: str) -> ModelPrice | None:
        found = self._prices.get(model)
        if found is not None:
            return found
        # Dated snapshots ("gpt-4o-mini-2024-07-18") bill as their family.
        for name in sorted(self._prices, key=len, reverse=True):
            if model.startswith(name + "-"):
                return self._prices[name]
        return None

    def cost_micros(self, model: str, usage: Usage, *, batch: bool = False) -> int:
        """What the provider bills for `usage`, rounded up to the next micro-dollar."""
        p = self.price(model)
        if batch:
            p = p.batch()
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        numerator = fresh * p.input + cached * p.cached_input + usage.completion_tokens * p.output
        return _ceil_div(numerator, TOKENS_PER_PRICE_UNIT)

    def typical_ticket_micros(self, model: str) -> int:
        """What a typical ticket costs on `model` (uncached): for comparing models."""
        usage = Usage(TYPICAL_PROMPT_TOKENS, 0, TYPICAL_COMPLETION_TOKENS)
        return self.cost_micros(model, usage)

    def worst_case_micros(self, model: str, prompt_tokens: int, max_completion_tokens: int) -> int:
        """An upper bound: every prompt token billed uncached, every output token produced."""
        p = self.price(model)
        numerator = prompt_tokens * p.input + max_completion_tokens * p.output
        return _ceil_div(numerator, TOKENS_PER_PRICE_UNIT)


def parse_aliases(raw: Any) -> dict[str, str]:
    """An alias mapping from JSON text or an object; ValueError names what is wrong."""
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in raw.items()
    ):
        raise ValueError(
            'must be a JSON object of alias -> priced model, e.g. {"my-dep": "gpt-4o"}'
        )
    return dict(raw)


def _read_override(path: Path) -> tuple[dict[str, ModelPrice], dict[str, str]]:
    try:
        raw = json.loads(path.read_text())
        aliases = parse_aliases(raw.pop(ALIASES_KEY, {}))
        prices = {
            name: ModelPrice.from_usd(
                str(Decimal(str(p["input"]))),
                str(Decimal(str(p.get("cached_input", p["input"])))),
                str(Decimal(str(p["output"]))),
            )
            for name, p in raw.items()
        }
        return prices, aliases
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise SettingsError(f"PACELINE_PRICING_FILE: cannot read {path}: {exc}") from None
