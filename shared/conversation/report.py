"""Resolutions per tenant and day, and what each cost: the number a support lead judges by.

- `resolutions`: tickets resolved in the period (confirmed, solved by the vendor with no
  person, or their window closed).
- `resolution_rate`: of the tickets the agent first handled in the period, the share resolved
  among those decided (resolved or unresolved); the ones still in their window are
  `awaiting` and left out until they are decided, so today's rate is not dragged down by
  windows that have not closed yet.
- `cost_per_resolution_usd`: ALL model spend of the tenant in the period (the budget books:
  answered, escalated, unresolved, pending, dead-lettered, replayed, and the help centre's
  embeddings) divided by the resolutions in the period. None when nothing was resolved.
- `median_messages`: messages (customer's and agent's) in a resolved conversation.

Periods are budget days (`PACELINE_TIMEZONE`), as the books are: the quarter hours of the day
(resolutions.py). Both are kept 8 days in Redis.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.clock import day_bounds_s
from shared.conversation.resolutions import Resolutions
from shared.ledger import Ledger

# What commercial support agents charge per resolution (issue 22): shown beside our figure.
COMMERCIAL_USD_PER_RESOLUTION = Decimal("0.99")
COMMERCIAL_MICROS_PER_RESOLUTION = int(COMMERCIAL_USD_PER_RESOLUTION * 1_000_000)


@dataclass
class ResolutionStats:
    handled: int = 0
    cohort_resolved: int = 0
    cohort_unresolved: int = 0
    resolutions: int = 0
    spend_micros: int = 0
    how: Counter[str] = field(default_factory=Counter)
    messages: Counter[int] = field(default_factory=Counter)

    def add(self, other: ResolutionStats) -> None:
        self.handled += other.handled
        self.cohort_resolved += other.cohort_resolved
        self.cohort_unresolved += other.cohort_unresolved
        self.resolutions += other.resolutions
        self.spend_micros += other.spend_micros
        self.how.update(other.how)
        self.messages.update(other.messages)

    @property
    def awaiting(self) -> int:
        return max(self.handled - self.cohort_resolved - self.cohort_unresolved, 0)

    @property
    def resolution_rate(self) -> float | None:
        decided = self.cohort_resolved + self.cohort_unresolved
        return round(self.cohort_resolved / decided, 4) if decided else None

    @property
    def cost_per_resolution_micros(self) -> int | None:
        return self.spend_micros // self.resolutions if self.resolutions else None

    @property
    def median_messages(self) -> float | None:
        return histogram_median(self.messages)

    def as_json(self) -> dict[str, Any]:
        per = self.cost_per_resolution_micros
        return {
            "resolutions": self.resolutions,
            "resolution_rate": self.resolution_rate,
            "cost_per_resolution_usd": None if per is None else per / 1_000_000,
            "cost_per_resolution_micros": per,
            "median_messages_to_resolution": self.median_messages,
            "handled": self.handled,
            "unresolved": self.cohort_unresolved,
            "awaiting": self.awaiting,
            "resolved_by": dict(sorted(self.how.items())),
            "spend_usd": self.spend_micros / 1_000_000,
            "spend_micros": self.spend_micros,
            "commercial_usd_per_resolution": float(COMMERCIAL_USD_PER_RESOLUTION),
        }


def histogram_median(hist: Counter[int]) -> float | None:
    """The median of values given as value -> count, without expanding them."""
    total = sum(hist.values())
    if total <= 0:
        return None
    # The middle rank (odd count) or the two middle ranks (even count), 1-based.
    ranks = sorted({(total + 1) // 2, total // 2 + 1})
    middle: list[int] = []
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        while ranks and seen >= ranks[0]:
            middle.append(value)
            ranks.pop(0)
    return sum(middle) / len(middle)


def day_range_ms(day: str, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of budget day `day` (YYYY-MM-DD) in `tz`, in epoch ms."""
    d = date.fromisoformat(day)
    start_s, end_s = day_bounds_s(datetime(d.year, d.month, d.day, 12, tzinfo=tz).timestamp(), tz)
    return int(start_s * 1000), int(end_s * 1000)


def day_stats(
    res: Resolutions, ledger: Ledger, day: str, tz: ZoneInfo
) -> dict[str, ResolutionStats]:
    """Every tenant's figures for one budget day: those with resolution counts or spend."""
    stats: dict[str, ResolutionStats] = {}

    def of(tenant: str) -> ResolutionStats:
        return stats.setdefault(tenant, ResolutionStats())

    for counts in res.counts(*day_range_ms(day, tz)):
        for name, raw in counts.items():
            counter, _, tenant = name.rpartition(":")
            n = int(raw)
            kind, _, detail = counter.partition(":")
            if kind == "handled":
                of(tenant).handled += n
            elif kind == "c_resolved":
                of(tenant).cohort_resolved += n
            elif kind == "c_unresolved":
                of(tenant).cohort_unresolved += n
            elif kind == "resolved":
                of(tenant).resolutions += n
            elif kind == "how":
                of(tenant).how[detail] += n
            elif kind == "msgs" and detail.isdigit():
                of(tenant).messages[int(detail)] += n
    for scope, micros in ledger.day_books(day)["spent"].items():
        kind, _, tenant = scope.partition(":")
        if kind in ("tenant", "kb") and tenant:
            of(tenant).spend_micros += micros
    return stats


def per_tenant(
    res: Resolutions, ledger: Ledger, days: list[str], tz: ZoneInfo
) -> dict[str, ResolutionStats]:
    """Each tenant's figures over `days`."""
    found: dict[str, ResolutionStats] = {}
    for day in days:
        for name, stats in day_stats(res, ledger, day, tz).items():
            found.setdefault(name, ResolutionStats()).add(stats)
    return dict(sorted(found.items()))


def resolution_report(
    res: Resolutions, ledger: Ledger, days: list[str], tz: ZoneInfo, tenant: str | None = None
) -> ResolutionStats:
    """The figures over `days`, for one tenant or all of them."""
    total = ResolutionStats()
    for day in days:
        for name, stats in day_stats(res, ledger, day, tz).items():
            if tenant is None or name == tenant:
                total.add(stats)
    return total
