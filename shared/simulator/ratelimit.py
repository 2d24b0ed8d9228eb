"""Requests and tokens per minute over a sliding minute, with OpenAI's x-ratelimit headers."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from shared.clock import Clock

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: str  # "requests" or "tokens": which one refused (when not allowed)
    retry_after_ms: int
    headers: dict[str, str]


def format_duration(seconds: float) -> str:
    """OpenAI's style: "20ms", "1s", "17.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


class SlidingWindow:
    """Each admitted request with its tokens, kept for one minute (single event loop: no lock)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # (at_s, tokens, requests): a request is one entry; its completion tokens, known
        # later and possibly after other requests, are a second entry with requests=0.
        self._entries: deque[tuple[float, int, int]] = deque()
        self._tokens = 0
        self._requests = 0

    def _expire(self, now_s: float) -> None:
        while self._entries and self._entries[0][0] <= now_s - WINDOW_S:
            _at_s, tokens, requests = self._entries.popleft()
            self._tokens -= tokens
            self._requests -= requests

    def admit(self, tokens: int, rpm: int, tpm: int) -> Verdict:
        """Count the request if it fits both limits; the headers describe the state after."""
        now_s = self._clock.now_s()
        self._expire(now_s)
        if self._requests + 1 > rpm:
            return self._refused("requests", now_s, rpm, tpm)
        if self._tokens + tokens > tpm:
            return self._refused("tokens", now_s, rpm, tpm)
        self._entries.append((now_s, tokens, 1))
        self._tokens += tokens
        self._requests += 1
        return Verdict(True, "", 0, self._headers(now_s, rpm, tpm))

    def add_tokens(self, tokens: int) -> None:
        """Charge a completion's tokens once they are known."""
        if tokens > 0:
            self._entries.append((self._clock.now_s(), tokens, 0))
            self._tokens += tokens

    def clear(self) -> None:
        self._entries.clear()
        self._tokens = 0
        self._requests = 0

    def _refused(self, limit: str, now_s: float, rpm: int, tpm: int) -> Verdict:
        # The oldest entry's expiry is when capacity next frees up.
        wait_s = self._entries[0][0] + WINDOW_S - now_s if self._entries else 0.0
        return Verdict(
            False, limit, max(1, math.ceil(wait_s * 1000)), self._headers(now_s, rpm, tpm)
        )

    def _headers(self, now_s: float, rpm: int, tpm: int) -> dict[str, str]:
        # "Reset" is the time until the window is back to its initial, empty state.
        reset_s = self._entries[-1][0] + WINDOW_S - now_s if self._entries else 0.0
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(max(0, rpm - self._requests)),
            "x-ratelimit-remaining-tokens": str(max(0, tpm - self._tokens)),
            "x-ratelimit-reset-requests": format_duration(reset_s),
            "x-ratelimit-reset-tokens": format_duration(reset_s),
        }
