"""Whether the agent resolved a ticket: its resolution state in Redis, moved by one Lua script.

A ticket the agent answered is `awaiting` while its window runs
(`PACELINE_RESOLUTION_WINDOW_H` from its last answer). It becomes `resolved` when the customer
confirms, when the vendor marks it solved with no person involved, or when the window closes
with no customer message (the scheduler's `close_due`). It is `unresolved` when the customer
comes back unsatisfied or asks for a person, when it is escalated, or when a person replies;
the agent answering it again puts it back to `awaiting`. A customer's new question stops the
window (`open`) until the next answer. `resolved` is terminal and counted once.

Counts go in quarter-hour hashes (UTC): the tickets first handled in it (the cohort, and how
many of them were resolved or are unresolved now: the resolution rate), and the resolutions
that happened in it with their messages (what a period's spend is divided by). A budget day in
any time zone is a whole number of quarter hours, so events need no time zone or window: the
hooks run in any process with only its Redis client. Keys and scripts: resolution_common.lua.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import redis
from redis.commands.core import Script

from shared.keys import LEDGER_DAY_TTL_S, TICKET_RETENTION_S, Keys
from shared.lua import lua_source

BUCKET_MS = 900_000
EVENTS = frozenset(
    {"answered", "escalated", "confirmed", "unsatisfied", "asks_person", "other", "human",
     "solved"}
)  # fmt: skip
# Windows one call of `close_due` looks at, at most (the scheduler calls it every tick).
CLOSE_BATCH = 500


@cache
def _source(name: str) -> str:
    return lua_source("shared.conversation", "resolution_common", name)


@dataclass(frozen=True)
class TicketResolution:
    state: str
    tenant: str
    bucket: int | None
    customer_messages: int
    agent_messages: int
    human: bool
    how: str | None
    at_ms: int | None


class Resolutions:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._event = client.register_script(_source("resolution_event"))
        self._window = client.register_script(_source("resolution_window"))

    def record(
        self, event: str, tenant: str, ticket_key: str, at_ms: int, *, by_human: bool = False
    ) -> str:
        """Apply one event to ticket `ticket_key` (of `tenant`) at `at_ms`; the state after."""
        script, keys, args = self.event_call(event, tenant, ticket_key, at_ms, by_human=by_human)
        return str(script(keys=keys, args=args))

    def event_call(
        self, event: str, tenant: str, ticket_key: str, at_ms: int, *, by_human: bool = False
    ) -> tuple[Script, list[str], list[Any]]:
        """`record`'s script as (script, keys, args), for a round trip shared with other
        writes (the worker's close); its reply is the state after."""
        if event not in EVENTS:
            raise ValueError(f"unknown resolution event {event!r}")
        keys = [
            self._keys.resolution(ticket_key),
            self._keys.resolution_window,
            self._keys.history_stream,
        ]
        args: list[Any] = [
            event,
            ticket_key,
            tenant,
            int(at_ms),
            self._keys.resolution_bucket_prefix,
            TICKET_RETENTION_S,
            LEDGER_DAY_TTL_S,
            "1" if by_human else "0",
        ]
        return self._event, keys, args

    def close_due(self, now_ms: int, window_ms: int, limit: int = CLOSE_BATCH) -> tuple[int, int]:
        """Resolve the tickets answered at least `window_ms` before `now_ms` with no customer
        message since (looking at `limit` at most): (resolved, looked at)."""
        resolved, seen = cast(
            list[int],
            self._window(
                keys=[self._keys.resolution_window, self._keys.history_stream],
                args=[
                    int(now_ms) - int(window_ms),
                    int(window_ms),
                    self._keys.resolution_prefix,
                    self._keys.resolution_bucket_prefix,
                    LEDGER_DAY_TTL_S,
                    limit,
                ],
            ),
        )
        return int(resolved), int(seen)

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
            bucket=_int_or_none(raw.get("bucket")),
            customer_messages=int(raw.get("cmsgs", 0)),
            agent_messages=int(raw.get("amsgs", 0)),
            human=raw.get("human") == "1",
            how=raw.get("how"),
            at_ms=_int_or_none(raw.get("at_ms")),
        )

    def counts(self, start_ms: int, end_ms: int) -> list[dict[str, str]]:
        """The raw counters (`<counter>:<tenant>` -> n) of every quarter hour in
        [start_ms, end_ms), in one round trip; report.py reads them."""
        pipe = self._r.pipeline(transaction=False)
        for bucket in range(start_ms // BUCKET_MS, (end_ms - 1) // BUCKET_MS + 1):
            pipe.hgetall(self._keys.resolution_bucket(str(bucket)))
        return cast(list[dict[str, Any]], pipe.execute())


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None
