"""Synthetic demand for `paceline simulate`: a bursty day of live tickets and their costs.

Seeded, so two runs (with and without replay) see the same live tickets at the same times.
Costs are drawn from a log-normal around a mean sized so the ceiling pays for a few thousand
tickets a day: the shape of the day matters here, not the price of one ticket.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Relative live demand per local hour: quiet night, morning peak, lunch dip, afternoon peak.
HOURLY_SHAPE = (
    0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 1.1, 1.7, 2.2, 2.3, 1.9,
    1.4, 1.5, 1.9, 2.1, 1.9, 1.5, 1.1, 0.8, 0.6, 0.4, 0.3, 0.2,
)  # fmt: skip
_SHAPE_MEAN = sum(HOURLY_SHAPE) / len(HOURLY_SHAPE)
TENANTS = (("acme", 0.5), ("globex", 0.3), ("initech", 0.2))
COST_SIGMA = 0.6


@dataclass(frozen=True)
class SimTicket:
    seq: int
    arrival_ms: int
    tenant_id: str
    requester_id: str
    cost_draw: float  # multiplies the model's mean cost; mean 1.0


class Traffic:
    def __init__(self, seed: int, tickets_per_day_at_1x: float, demand_x: float) -> None:
        self._rng = random.Random(seed)
        self._per_hour = tickets_per_day_at_1x * demand_x / 24
        self._seq = 0

    def rate_per_s(self, local_hour: int) -> float:
        return self._per_hour * HOURLY_SHAPE[local_hour % 24] / _SHAPE_MEAN / 3600

    def arrivals(self, start_ms: int, step_ms: int, local_hour: int) -> list[SimTicket]:
        """The live tickets arriving in [start, start + step), in time order."""
        n = _poisson(self._rng, self.rate_per_s(local_hour) * step_ms / 1000)
        times = sorted(start_ms + int(self._rng.random() * step_ms) for _ in range(n))
        return [self.ticket(t) for t in times]

    def ticket(self, arrival_ms: int, seq_base: int = 0) -> SimTicket:
        self._seq += 1
        names = [t for t, _ in TENANTS]
        tenant = self._rng.choices(names, weights=[w for _, w in TENANTS])[0]
        # A log-normal with mean 1: exp(N(-s^2/2, s)).
        draw = math.exp(self._rng.gauss(-(COST_SIGMA**2) / 2, COST_SIGMA))
        return SimTicket(
            seq_base + self._seq, arrival_ms, tenant, f"u{self._rng.randrange(2000)}", draw
        )


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:  # normal approximation; Knuth's loop is slow and underflows for large means
        return max(round(rng.gauss(lam, math.sqrt(lam))), 0)
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
