"""What a scenario ended with: one state per accepted ticket, read from the outcome store.

Lost = an accepted ticket with no state at all, or still `pending` at the end (invariant 2).
`parked` at the end is visible, not lost, but every scenario here expects the stack to drain,
so a ticket left parked fails the scenario's expectations instead.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from shared.keys import Keys, unscoped

FINAL = ("answered", "escalated", "rejected", "dead_lettered", "human_owned")
COLUMNS = ("answered", "escalated", "parked", "rejected", "dead_lettered")


def statuses(client: redis.Redis, keys: Keys, ticket_ids: list[str]) -> dict[str, str | None]:
    # Outcomes are keyed by tenant, source and id: find each id's key in the index (the
    # scenarios' ticket ids are unique across tenants).
    key_of: dict[str, str] = {}
    for member in client.zrange(keys.outcomes_index, 0, -1):
        parts = unscoped(member)
        key_of[parts[-1] if parts and len(parts) == 3 else member] = member
    pipe = client.pipeline(transaction=False)
    for tid in ticket_ids:
        pipe.hget(keys.ticket(key_of.get(tid, tid)), "status")
    return dict(zip(ticket_ids, pipe.execute(), strict=True))


def wait_final(
    client: redis.Redis, keys: Keys, ticket_ids: list[str], timeout_s: float
) -> dict[str, str | None]:
    """Poll until every ticket is final or the deadline passes; returns the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            now = statuses(client, keys, ticket_ids)
        except redis.RedisError:
            now = {}
        if now and all(s in FINAL for s in now.values()):
            return now
        if time.monotonic() > deadline:
            return now or statuses(client, keys, ticket_ids)
        time.sleep(0.25)


@dataclass
class Result:
    name: str
    tickets_in: int = 0
    answered: int = 0
    escalated: int = 0
    parked: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    lost: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lost_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and not self.failures

    def count(self, final: dict[str, str | None]) -> None:
        self.tickets_in = len(final)
        seen = Counter(s for s in final.values() if s)
        for col in COLUMNS:
            setattr(self, col, seen.get(col, 0))
        self.lost_ids = sorted(t for t, s in final.items() if s in (None, "pending"))
        self.lost = len(self.lost_ids)
        if self.lost:
            self.failures.append(f"{self.lost} lost, e.g. {self.lost_ids[:3]}")
        if self.parked:
            self.failures.append(f"{self.parked} still parked at the deadline")

    def expect(self, ok: bool, what: str) -> None:
        """A failed expectation fails the scenario (and the suite's exit code)."""
        if not ok:
            self.failures.append(what)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ok"] = self.ok
        return doc
