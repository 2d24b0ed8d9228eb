"""How long to wait before the next attempt: exponential backoff with full jitter.

Full jitter (a uniform draw in [0, base * 2^n], capped) spreads a fleet's retries instead of
synchronising them; a provider's Retry-After is a floor on top of it.
"""

from __future__ import annotations

import random


def backoff_s(
    attempt: int, *, base_ms: int, max_ms: int, retry_after_s: float | None, rng: random.Random
) -> float | None:
    """Seconds to sleep after failed attempt number `attempt` (0-based), or None when the
    provider asks for longer than `max_ms`: then waiting in a worker thread is the wrong
    place, and the error goes up so the ticket can be parked."""
    ceiling_ms = min(max_ms, base_ms * (2 ** min(attempt, 30)))
    delay_s = rng.uniform(0, ceiling_ms) / 1000.0
    if retry_after_s is not None:
        if retry_after_s * 1000.0 > max_ms:
            return None
        delay_s = max(delay_s, retry_after_s)
    return delay_s
