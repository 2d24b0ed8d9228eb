"""Synthetic demand for `paceline simulate`: a bursty day of live tickets and what each costs.

Seeded, so runs of several policies see the same live tickets at the same times. Each ticket
carries a usage (prompt, cached and completion tokens over all its calls): drawn around the
price table's typical ticket (`SyntheticUsage`), or resampled from recorded outcomes
(`RecordedUsage`, `--from-outcomes`). Its cost on a model is that usage priced by the price
table, times one scale for the whole run, chosen so that `tickets_per_day` tickets on the
default model cost the ceiling (the shape of the day matters here, not the count: a real
day at list prices would be tens of thousands of tickets). The ratios between models are the
price table's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.pricing import TYPICAL_COMPLETION_TOKENS, TYPICAL_PROMPT_TOKENS, PriceTable, Usage

# Relative live demand per local hour: quiet night, morning peak, lunch dip, afternoon peak.
HOURLY_SHAPE = (
    0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 1.1, 1.7, 2.2, 2.3, 1.9,
    1.4, 1.5, 1.9, 2.1, 1.9, 1.5, 1.1, 0.8, 0.6, 0.4, 0.3, 0.2,
)  # fmt: skip
_SHAPE_MEAN = sum(HOURLY_SHAPE) / len(HOURLY_SHAPE)
TENANTS = (("acme", 0.5), ("globex", 0.3), ("initech", 0.2))
PROMPT_SIGMA = 0.6
COMPLETION_SIGMA = 0.5
# Usage draws that set the scale (a separate stream: the day's tickets are not consumed).
SCALE_SAMPLES = 4_000


class UsageSource(Protocol):
    def draw(self, rng: random.Random) -> Usage: ...


class SyntheticUsage:
    """Log-normal prompt and completion tokens around the typical ticket; nothing cached."""

    def draw(self, rng: random.Random) -> Usage:
        prompt = _lognormal(rng, TYPICAL_PROMPT_TOKENS, PROMPT_SIGMA)
        completion = _lognormal(rng, TYPICAL_COMPLETION_TOKENS, COMPLETION_SIGMA)
        return Usage(max(round(prompt), 1), 0, max(round(completion), 1))


class RecordedUsage:
    """Usages resampled from recorded outcomes."""

    def __init__(self, samples: Sequence[Usage]) -> None:
        self.samples = list(samples)

    def draw(self, rng: random.Random) -> Usage:
        return rng.choice(self.samples)


@dataclass(frozen=True)
class SimTicket:
    seq: int
    arrival_ms: int
    tenant_id: str
    requester_id: str
    usage: Usage


class SimPrices:
    """A ticket's cost on each model: its usage at list price, times the run's scale."""

    def __init__(
        self, prices: PriceTable, models: list[str], usage: UsageSource, mean_micros: int
    ) -> None:
        self._prices = prices
        rng = random.Random(0)
        sample = [usage.draw(rng) for _ in range(SCALE_SAMPLES)]
        default = sum(prices.cost_micros(models[0], u) for u in sample) / len(sample)
        self.scale = mean_micros / max(default, 1e-9)
        self.mean_micros = {
            m: round(self.scale * sum(prices.cost_micros(m, u) for u in sample) / len(sample))
            for m in models
        }

    def cost_micros(self, model: str, usage: Usage) -> int:
        return max(math.ceil(self._prices.cost_micros(model, usage) * self.scale), 1)


class Traffic:
    def __init__(
        self, seed: int, tickets_per_day_at_1x: float, demand_x: float, usage: UsageSource
    ) -> None:
        self._rng = random.Random(seed)
        self._per_hour = tickets_per_day_at_1x * demand_x / 24
        self._usage = usage
        self._seq = 0

    def rate_per_s(self, local_hour: int) -> float:
        return self._per_hour * HOURLY_SHAPE[local_hour % 24] / _SHAPE_MEAN / 3600

    def arrivals(self, start_ms: int, step_ms: int, local_hour: int) -> list[SimTicket]:
        """The live tickets arriving in [start, start + step), in time order."""
        n = _poisson(self._rng, self.rate_per_s(local_hour) * step_ms / 1000)
        times = sorted(start_ms + int(self._rng.random() * step_ms) for _ in range(n))
        return [self.ticket(t) for t in times]

    def hourly_counts(self) -> list[int]:
        """A whole day's arrivals per hour (a past day, for the forecast's history)."""
        return [_poisson(self._rng, self.rate_per_s(h) * 3600) for h in range(24)]

    def ticket(self, arrival_ms: int, seq_base: int = 0) -> SimTicket:
        self._seq += 1
        names = [t for t, _ in TENANTS]
        tenant = self._rng.choices(names, weights=[w for _, w in TENANTS])[0]
        requester = f"u{self._rng.randrange(2000)}"
        return SimTicket(
            seq_base + self._seq, arrival_ms, tenant, requester, self._usage.draw(self._rng)
        )


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    """A log-normal with the given mean: mean * exp(N(-s^2/2, s))."""
    return mean * math.exp(rng.gauss(-(sigma**2) / 2, sigma))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:  # normal approximation; Knuth's loop is slow and underflows for large means
        return max(round(rng.gauss(lam, math.sqrt(lam))), 0)
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
