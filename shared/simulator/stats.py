"""What the simulator has served, for `GET /_sim/stats` (single event loop: no lock needed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Stats:
    requests: int = 0
    streamed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    tool_calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_model: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    errors_by_kind: Counter[str] = field(default_factory=Counter)
    tool_calls_by_name: Counter[str] = field(default_factory=Counter)
    finish_reasons: Counter[str] = field(default_factory=Counter)

    def started(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self, status: int) -> None:
        self.in_flight -= 1
        self.by_status[str(status)] += 1

    def reset(self) -> None:
        # In-flight requests are still running: keep counting them so the figure stays true.
        in_flight = self.in_flight
        fresh = Stats()
        for name in self.__slots__:
            setattr(self, name, getattr(fresh, name))
        self.in_flight = in_flight

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            doc[name] = dict(value) if isinstance(value, Counter) else value
        doc["total_tokens"] = self.prompt_tokens + self.completion_tokens
        return doc
