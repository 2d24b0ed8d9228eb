"""One clock for the ledger's day, the scheduler's pace and every TTL (invariant 6).

Production code receives a `Clock`; tests pass a `ManualClock` and move time by hand, so a
whole budget day can be simulated in seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds since the epoch (UTC)."""

    def sleep(self, seconds: float) -> None:
        """Wait; a manual clock advances instead of blocking."""


class SystemClock:
    def now_s(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start_s: float = 1_764_000_000.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()

    def now_s(self) -> float:
        with self._lock:
            return self._now_s

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now_s += seconds

    def set(self, now_s: float) -> None:
        with self._lock:
            self._now_s = now_s

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))


class ScaledClock:
    """Real time sped up by `factor` from a chosen start: a compressed day for `simulate`."""

    def __init__(self, start_s: float, factor: float) -> None:
        self._start_s = start_s
        self._factor = factor
        self._origin = time.monotonic()

    def now_s(self) -> float:
        return self._start_s + (time.monotonic() - self._origin) * self._factor

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self._factor)


def now_ms(clock: Clock) -> int:
    return int(clock.now_s() * 1000)


def budget_day(clock_s: float, tz: ZoneInfo) -> str:
    """The budget day (YYYY-MM-DD) that `clock_s` falls in, in the operator's time zone."""
    return datetime.fromtimestamp(clock_s, tz).strftime("%Y-%m-%d")


def next_midnight_s(clock_s: float, tz: ZoneInfo) -> float:
    """Epoch seconds of the next local midnight; DST-safe because it re-localises the date."""
    local = datetime.fromtimestamp(clock_s, tz)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz).timestamp()


def day_bounds_s(clock_s: float, tz: ZoneInfo) -> tuple[float, float]:
    """(start, end) of the local budget day containing `clock_s`, in epoch seconds."""
    local = datetime.fromtimestamp(clock_s, tz)
    start = datetime(local.year, local.month, local.day, tzinfo=tz).timestamp()
    return start, next_midnight_s(clock_s, tz)
