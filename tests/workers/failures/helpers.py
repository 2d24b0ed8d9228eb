"""Real parts for the failure tests: enqueue through Intake, release parked work, read the
ledger's per-call records to count every provider attempt a ticket paid for."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import redis

from producers.enqueue import Intake
from shared.broker import build_broker
from shared.clock import SystemClock
from shared.keys import SETTLED_CALL, Keys
from shared.models import Ticket
from shared.settings import Settings
from shared.stores.outcomes import OutcomeStore
from tests.helpers import generic_ticket


def enqueue(settings: Settings, client: redis.Redis, n: int, start: int = 1, **over: Any) -> None:
    broker = build_broker(settings)
    intake = Intake(
        broker=broker,
        client=client,
        keys=Keys(settings.namespace),
        clock=SystemClock(),
        dedupe_window_s=settings.dedupe_window_s,
    )
    try:
        for i in range(start, start + n):
            doc = generic_ticket(
                i, requester={"id": f"u-{i}", "email": f"u{i}@example.com"}, **over
            )
            intake.submit(Ticket.model_validate(doc))
    finally:
        broker.close()


def final_count(store: OutcomeStore) -> int:
    counts = store.summary()
    return sum(counts[s] for s in ("answered", "escalated", "rejected", "dead_lettered"))


def attempts_by_ticket(client: redis.Redis, keys: Keys) -> dict[str, list[str]]:
    """Every provider call each ticket drew money for: `<nonce>:<run>:<step>:<attempt>` ids
    from each reservation's settled calls (`s:<call>` fields), grouped by its ticket."""
    out: dict[str, list[str]] = defaultdict(list)
    for key in client.scan_iter(match=keys.reservation_prefix + "*", count=1000):
        if key in (keys.leases, keys.reservation_by_ticket):
            continue
        res = client.hgetall(key)
        calls = [f[len(SETTLED_CALL) :] for f in res if f.startswith(SETTLED_CALL)]
        out[str(res.get("ticket"))].extend(calls)
    return out


class Releaser:
    """Releases due parked tickets, as the scheduler will (until `paceline scheduler` lands)."""

    def __init__(self, ctx: Any, broker: Any, every_s: float = 0.2) -> None:
        self.ctx, self.broker, self.every_s = ctx, broker, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.ctx.parking.release_due(self.ctx.now_ms(), self.broker.enqueue)

    def __enter__(self) -> Releaser:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
