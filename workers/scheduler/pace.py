"""The pace: what is left of the ceiling over what is left of the day.

Evenly, or, with a forecast of the day's live demand, in proportion to it and never below
even (live_plan.py's `shaped_rate`), so the evening gets its share as well as the morning.
The scheduler only sets the refill `rate` (micros per hour), `rate_set_ms` and the `burst` in
`<ns>:pace`; the admission script refills and draws the bucket atomically. Should the
scheduler stop, admission falls back to the even formula after 120 s on its own, so pacing
never depends on this process being up.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from shared.clock import Clock, day_bounds_s
from shared.keys import RESERVED, SPENT, Keys
from shared.ledger import Ledger
from shared.settings import Settings
from workers.scheduler.forecast import Forecast
from workers.scheduler.live_plan import shaped_rate

# Never divide by less than a minute: the last moments of the day must not ask for infinity.
MIN_SPAN_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class PaceState:
    rate_micros_per_h: int
    burst_micros: int
    tokens_micros: int
    remaining_micros: int
    ceiling_micros: int
    committed_micros: int
    day_start_ms: int
    day_end_ms: int


class Pacer:
    def __init__(
        self, client: redis.Redis, keys: Keys, settings: Settings, clock: Clock, ledger: Ledger
    ) -> None:
        self._r = client
        self._keys = keys
        self._settings = settings
        self._clock = clock
        self._ledger = ledger

    def ceiling_micros(self) -> int:
        override = self._r.hget(self._keys.caps, "global")
        return int(override) if override else self._settings.ceiling_micros

    def update(self, forecast: Forecast | None = None) -> PaceState:
        """Set today's refill rate from the books (and the forecast); returns what was set."""
        now_s = self._clock.now_s()
        now_ms = int(now_s * 1000)
        start_s, end_s = day_bounds_s(now_s, self._settings.tz)
        day = self._ledger.day(now_s)
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        pipe.hget(k.caps, "global")
        pipe.hmget(k.books(day), [SPENT + "global", RESERVED + "global"])
        pipe.hmget(k.pace, ["tokens", "updated_ms"])
        override, (spent, reserved), (tokens, updated_ms) = pipe.execute()
        ceiling = int(override) if override else self._settings.ceiling_micros
        remaining = max(ceiling - int(spent or 0) - int(reserved or 0), 0)
        span_ms = max(int(end_s * 1000) - now_ms, MIN_SPAN_MS)
        rate = remaining * HOUR_MS // span_ms
        if forecast is not None:
            rate = shaped_rate(remaining, span_ms, forecast)
        burst = self._ledger.burst_micros()
        if self._settings.pacing == "even":
            self._r.hset(k.pace, mapping={"rate": rate, "rate_set_ms": now_ms, "burst": burst})
        return PaceState(
            rate_micros_per_h=rate,
            burst_micros=burst,
            tokens_micros=_refilled(tokens, updated_ms, now_ms, rate, burst),
            remaining_micros=remaining,
            ceiling_micros=ceiling,
            committed_micros=int(spent or 0) + int(reserved or 0),
            day_start_ms=int(start_s * 1000),
            day_end_ms=int(end_s * 1000),
        )


def _refilled(
    tokens: str | None, updated_ms: str | None, now_ms: int, rate: int, burst: int
) -> int:
    """What the bucket holds now, as the admission script would refill it."""
    if tokens is None:
        return burst
    elapsed_ms = min(max(now_ms - int(updated_ms or now_ms), 0), HOUR_MS)
    return min(int(tokens) + elapsed_ms * rate // HOUR_MS, burst)
