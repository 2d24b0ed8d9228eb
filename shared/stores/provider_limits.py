"""The provider's own rate limits, read from its response headers, as an admission gate.

OpenAI-compatible providers send `x-ratelimit-remaining-requests`, `-tokens` and
`x-ratelimit-reset-requests`, `-tokens` (durations like "6m0s", "1s", "250ms"); Azure sends
the remaining counts alone. When what is
left falls under a margin, starting another ticket only buys a 429 and a retry; parking it
until the window resets costs nothing. Every worker writes what it saw into one Redis hash, so
all of them gate on the freshest view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import redis

from shared.clock import Clock
from shared.keys import Keys
from shared.models import Lane, Ticket

REASON = "provider_rate_limit"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
KINDS = ("requests", "tokens")
# Azure sends what is left but not when it resets: its requests are counted over windows of
# up to 10 s and its tokens per minute, so those are the waits assumed when no reset is sent.
ASSUMED_RESET_MS = {"requests": 10_000, "tokens": 60_000}


def parse_duration_ms(text: str) -> int | None:
    """ "6m0s" -> 360000, "1s" -> 1000, "250ms" -> 250, "1.5" (bare seconds) -> 1500."""
    text = text.strip().lower()
    if not text:
        return None
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return int(sum(float(n) * _UNIT_MS[u] for n, u in parts))


class ProviderLimits:
    """`observe` what the provider says (the agent's responses); `queue_reads` and `decide`
    make it an admission gate (workers/admission/gates.py)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        *,
        min_tokens: int = 4_000,
        min_requests: int = 1,
    ) -> None:
        self._r = client
        self._keys = keys
        self._clock = clock
        self.margins = {"tokens": min_tokens, "requests": min_requests}

    def observe(self, headers: Mapping[str, str]) -> None:
        fields = self._fields(headers)
        if fields:
            self._r.hset(self._keys.provider_limits, mapping=fields)

    def observe_command(self, headers: Mapping[str, str]) -> tuple[Any, ...] | None:
        """`observe`'s write as one command (None: the response said nothing of its limits),
        for a round trip shared with the call's settle (workers/call_records.py)."""
        fields = self._fields(headers)
        if not fields:
            return None
        return ("HSET", self._keys.provider_limits, *(x for pair in fields.items() for x in pair))

    def _fields(self, headers: Mapping[str, str]) -> dict[Any, Any] | None:
        lower = {k.lower(): v for k, v in headers.items()}
        now_ms = int(self._clock.now_s() * 1000)
        fields: dict[Any, Any] = {}
        for kind in KINDS:
            remaining = lower.get(f"x-ratelimit-remaining-{kind}")
            reset = lower.get(f"x-ratelimit-reset-{kind}")
            if remaining is None:
                continue
            reset_ms = ASSUMED_RESET_MS[kind] if reset is None else parse_duration_ms(reset)
            try:
                left = int(float(remaining))
            except ValueError:
                continue
            if reset_ms is None:
                continue
            fields[f"remaining_{kind}"] = left
            fields[f"reset_{kind}_ms"] = now_ms + reset_ms
        if not fields:
            return None
        fields["observed_ms"] = now_ms
        return fields

    def state(self) -> dict[str, int]:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.provider_limits))
        return {k: int(v) for k, v in raw.items()}

    def queue_reads(self, pipe: Any) -> int:
        """Queue what `decide` reads (admission sends it in the admit's round trip)."""
        pipe.hgetall(self._keys.provider_limits)
        return 1

    def decide(self, replies: list[Any], ticket: Ticket, lane: Lane) -> tuple[int, str] | None:
        raw = cast(dict[str, str], replies[0])
        if not raw:  # nothing known of the provider's windows yet
            return None
        st = {k: int(v) for k, v in raw.items()}
        now_ms = int(self._clock.now_s() * 1000)
        until_ms = 0
        for kind in KINDS:
            reset_ms = st.get(f"reset_{kind}_ms", 0)
            left = st.get(f"remaining_{kind}")
            if left is not None and left < self.margins[kind] and reset_ms > now_ms:
                until_ms = max(until_ms, reset_ms)
        return (until_ms, REASON) if until_ms else None
