"""Spend velocity: a tenant spending far above its usual rate is paused before it burns the day.

The ledger keeps spend per day, not over time, so the scheduler samples every tenant's spend
once a minute into a sorted set (`<ns>:scheduler:spend_samples`, kept two hours). A spike is
the last 10 minutes' spend above `factor` times the tenant's usual 10 minutes (its trailing
hour, or what history there is) and above a floor, so a quiet tenant's first tickets of the
morning never count. A spiking tenant is paused by `paused:tenant:<id>` = until_ms in
`<ns>:caps`, which the admission script honours. Samples live in Redis so a standby scheduler
that takes over keeps the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import cast

import redis

from shared.clock import Clock, budget_day
from shared.keys import SPENT, Keys
from shared.settings import Settings

SAMPLE_EVERY_MS = 60_000
WINDOW_MS = 600_000
BASELINE_MS = 3_600_000
KEEP_MS = 2 * 3_600_000
TENANT_PREFIX = "tenant:"


@dataclass(frozen=True)
class Sample:
    at_ms: int
    day: str
    spent: dict[str, int]  # tenant -> micros spent that day


@dataclass(frozen=True)
class Spike:
    tenant_id: str
    recent_micros: int
    baseline_micros: int  # usual spend per window
    ratio: float
    paused_until_ms: int
    window_s: int = WINDOW_MS // 1000


def _delta(a: Sample, b: Sample, tenant: str) -> int:
    """What the tenant spent between two samples (spend restarts at each budget day)."""
    later = b.spent.get(tenant, 0)
    return later - a.spent.get(tenant, 0) if a.day == b.day else later


class SpendVelocity:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        settings: Settings,
        clock: Clock,
        *,
        factor: float = 5.0,
        floor_micros: int | None = None,
        pause_s: int = 1800,
    ) -> None:
        self._r = client
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self.factor = factor
        # Spending a tenth of its daily cap in ten minutes is never routine.
        self.floor_micros = (
            floor_micros if floor_micros is not None else settings.tenant_cap_micros // 10
        )
        self.pause_s = pause_s

    def sample(self) -> Sample | None:
        """Record a snapshot if the last one is a minute old; returns it (or None)."""
        now_s = self._clock.now_s()
        now_ms = int(now_s * 1000)
        last = self._r.zrevrangebyscore(
            self._keys.spend_samples, "+inf", "-inf", start=0, num=1, withscores=True
        )
        if last and now_ms - int(last[0][1]) < SAMPLE_EVERY_MS:
            return None
        day = budget_day(now_s, self._settings.tz)
        # The day's hash also holds every requester's scope; only tenants come back over the wire.
        prefix = SPENT + TENANT_PREFIX
        rows = self._r.hscan_iter(self._keys.books(day), match=prefix + "*", count=5000)
        spent = {str(f)[len(prefix) :]: int(v) for f, v in rows}
        doc = json.dumps({"at": now_ms, "day": day, "spent": spent}, sort_keys=True)
        pipe = self._r.pipeline(transaction=False)
        pipe.zadd(self._keys.spend_samples, {doc: now_ms})
        pipe.zremrangebyscore(self._keys.spend_samples, "-inf", now_ms - KEEP_MS)
        pipe.execute()
        return Sample(now_ms, day, spent)

    def history(self) -> list[Sample]:
        rows = cast(list[str], self._r.zrangebyscore(self._keys.spend_samples, "-inf", "+inf"))
        out = []
        for row in rows:
            d = json.loads(row)
            out.append(
                Sample(int(d["at"]), str(d["day"]), {k: int(v) for k, v in d["spent"].items()})
            )
        return out

    def check(self) -> list[Spike]:
        """Sample, then pause every tenant whose last window spikes; returns the new pauses."""
        now = self.sample()
        if now is None:
            return []
        samples = self.history()
        before = [s for s in samples if s.at_ms <= now.at_ms - WINDOW_MS]
        if not before:
            return []  # less than one window of history: no baseline yet
        start = before[-1]
        oldest = next((s for s in before if s.at_ms >= start.at_ms - BASELINE_MS), start)
        base_span_ms = start.at_ms - oldest.at_ms
        spikes: list[Spike] = []
        for tenant in now.spent:
            recent = _delta(start, now, tenant)
            if recent <= self.floor_micros:
                continue
            baseline = (
                _delta(oldest, start, tenant) * WINDOW_MS // base_span_ms if base_span_ms else 0
            )
            if recent <= self.factor * baseline:
                continue
            until_ms = self._pause(tenant, now.at_ms)
            if until_ms:
                ratio = recent / baseline if baseline else float("inf")
                spikes.append(Spike(tenant, recent, baseline, ratio, until_ms))
        return spikes

    def _pause(self, tenant: str, now_ms: int) -> int:
        """Write the pause unless one is already running; returns its end, or 0."""
        field = f"paused:{TENANT_PREFIX}{tenant}"
        current = self._r.hget(self._keys.caps, field)
        if current is not None and int(current) > now_ms:
            return 0
        until_ms = now_ms + self.pause_s * 1000
        self._r.hset(self._keys.caps, field, until_ms)
        return until_ms
