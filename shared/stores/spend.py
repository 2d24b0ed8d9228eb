"""Today's cumulative spend by hour of the budget day, for the ops page's chart.

Sampled into `<ns>:ops:spend_hourly:<day>` (hour -> the most spent seen in it) on scrapes and
after tickets (`spend_sample.lua`: spend only grows within a day, so each hour keeps its
largest value).
"""

from __future__ import annotations

from typing import cast

import redis

from shared.clock import Clock, day_bounds_s
from shared.keys import LEDGER_DAY_TTL_S, Keys
from shared.ledger import Ledger
from shared.lua import lua_source
from shared.settings import Settings


class SpendSeries:
    """Today's cumulative spend by hour of the budget day (settings' time zone)."""

    def __init__(self, client: redis.Redis, settings: Settings, clock: Clock) -> None:
        self._r = client
        self._keys = Keys(settings.namespace)
        self._settings = settings
        self._clock = clock
        self._ledger = Ledger(client, self._keys, settings, clock)
        self._sample = client.register_script(lua_source("shared.stores", "spend_sample"))

    def hour_now(self) -> float:
        now_s = self._clock.now_s()
        start_s, _ = day_bounds_s(now_s, self._settings.tz)
        return (now_s - start_s) / 3600

    def sample(self) -> int:
        """Record the spend as of now in this hour's slot; returns it (micros)."""
        day = self._ledger.day()
        spent = self._sample(
            keys=[self._keys.books(day), self._keys.spend_hourly(day)],
            args=[int(self.hour_now()), LEDGER_DAY_TTL_S],
        )
        return int(spent)

    def hourly(self) -> list[tuple[int, int]]:
        """(hour, cumulative micros) for every hour of the day so far, gaps carried forward;
        the current hour's value is the spend right now."""
        spent_now = self.sample()
        raw = cast(dict[str, str], self._r.hgetall(self._keys.spend_hourly(self._ledger.day())))
        by_hour = {int(h): int(v) for h, v in raw.items()}
        points: list[tuple[int, int]] = []
        running = 0
        current = int(self.hour_now())
        for hour in range(current + 1):
            running = max(running, by_hour.get(hour, 0))
            points.append((hour, running))
        points[-1] = (current, spent_now)
        return points
