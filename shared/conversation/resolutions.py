"""Whether the agent resolved a ticket: its resolution state in Redis, moved by one Lua script.

A ticket the agent answered is `awaiting` while its window runs
(`PACELINE_RESOLUTION_WINDOW_H` from the last answer). It becomes `resolved` when the customer
confirms, when the vendor marks it solved with no person involved, or when the window closes
with no customer message (the scheduler's `close_due`). It is `unresolved` when the customer
comes back unsatisfied or asks for a person, when it is escalated, or when a person replies;
the agent answering it again puts it back to `awaiting`. A customer's new question stops the
window (`open`) until the next answer. `resolved` is terminal and counted once.

Per tenant and budget day the day's hash counts the tickets first handled that day (the
cohort: how many of them were resolved or are unresolved now, which gives the resolution
rate) and the resolutions that happened that day (what the day's spend is divided by) with a
histogram of messages to resolution. Keys and scripts: resolution_common.lua.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from shared.clock import Clock, budget_day
from shared.keys import LEDGER_DAY_TTL_S, TICKET_RETENTION_S, Keys
from shared.lua import lua_source
from shared.settings import Settings

EVENTS = frozenset(
    {"answered", "escalated", "confirmed", "unsatisfied", "asks_person", "other", "human",
     "solved"}
)  # fmt: skip
# Windows one call of `close_due` closes at most (the scheduler calls it every tick).
CLOSE_BATCH = 500


@dataclass(frozen=True)
class TicketResolution:
    state: str
    tenant: str
    day: str | None
    customer_messages: int
    agent_messages: int
    human: bool
    how: str | None
    at_ms: int | None
    deadline_ms: int | None


class Resolutions:
    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings, clock: Clock) -> None:
        self._r = client
        self._keys = keys
        self._tz = settings.tz
        self._clock = clock
        self.window_ms = int(settings.resolution_window_h * 3_600_000)
        self._event = client.register_script(
            lua_source("shared.conversation", "resolution_common", "resolution_event")
        )
        self._window = client.register_script(
            lua_source("shared.conversation", "resolution_common", "resolution_window")
        )

    def now_ms(self) -> int:
        return int(self._clock.now_s() * 1000)

    def day(self, at_ms: int | None = None) -> str:
        return budget_day((self.now_ms() if at_ms is None else at_ms) / 1000, self._tz)

    def record(self, event: str, tenant_id: str, ticket_key: str, *, by_human: bool = False) -> str:
        """Apply one event to ticket `ticket_key` (of `tenant_id`); the state after it."""
        if event not in EVENTS:
            raise ValueError(f"unknown resolution event {event!r}")
        now_ms = self.now_ms()
        today = self.day(now_ms)
        state = self._event(
            keys=[
                self._keys.resolution(ticket_key),
                self._keys.resolution_window,
                self._keys.resolution_day(today),
            ],
            args=[
                event,
                ticket_key,
                tenant_id,
                now_ms,
                today,
                now_ms + self.window_ms,
                self._keys.resolution_day_prefix,
                TICKET_RETENTION_S,
                LEDGER_DAY_TTL_S,
                "1" if by_human else "0",
            ],
        )
        return str(state)

    def close_due(self, limit: int = CLOSE_BATCH) -> int:
        """Resolve every ticket whose window closed by now (at most `limit`); the count."""
        now_ms = self.now_ms()
        due = cast(
            list[tuple[str, float]],
            self._r.zrangebyscore(
                self._keys.resolution_window, "-inf", now_ms, start=0, num=limit, withscores=True
            ),
        )
        if not due:
            return 0
        args: list[str | int] = [
            now_ms,
            self._keys.resolution_prefix,
            self._keys.resolution_day_prefix,
            LEDGER_DAY_TTL_S,
        ]
        for member, closes_ms in due:
            # Counted on the day the window closed, even when the scheduler comes late.
            args += [member, self.day(int(closes_ms))]
        return int(self._window(keys=[self._keys.resolution_window], args=args))

    def awaiting(self) -> int:
        """Answered tickets whose window is still open."""
        return int(self._r.zcard(self._keys.resolution_window))

    def get(self, ticket_key: str) -> TicketResolution | None:
        raw = cast(dict[str, str], self._r.hgetall(self._keys.resolution(ticket_key)))
        if not raw.get("state"):
            return None
        return TicketResolution(
            state=raw["state"],
            tenant=raw.get("tenant", ""),
            day=raw.get("day"),
            customer_messages=int(raw.get("cmsgs", 0)),
            agent_messages=int(raw.get("amsgs", 0)),
            human=raw.get("human") == "1",
            how=raw.get("how"),
            at_ms=_int_or_none(raw.get("at_ms")),
            deadline_ms=_int_or_none(raw.get("deadline_ms")),
        )

    def day_counts(self, day: str) -> dict[str, str]:
        """The raw counters of one day (`<counter>:<tenant>` -> n); report.py reads them."""
        return cast(dict[str, str], self._r.hgetall(self._keys.resolution_day(day)))


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None
