"""Shared pieces for scheduler tests: a clock at a known local time, tickets, a scheduler."""

from __future__ import annotations

from typing import Any

import dramatiq
import redis

from shared.clock import ManualClock, day_bounds_s
from shared.ledger import AdmissionRequest, Candidate, Decision, Ledger
from shared.messages import ticket_message
from shared.models import Lane, Ticket
from shared.settings import Settings
from tests.helpers import generic_ticket
from workers.scheduler import Scheduler

# 2025-11-24 (UTC); tests start at a chosen hour of that day.
DAY_S = 1_764_000_000.0


def clock_at(settings: Settings, hour: float) -> ManualClock:
    start_s, _ = day_bounds_s(DAY_S, settings.tz)
    return ManualClock(start_s + hour * 3600)


def message(n: int | str, lane: Lane = Lane.LIVE, **over: Any) -> dramatiq.Message[Any]:
    return ticket_message(Ticket.model_validate(generic_ticket(n, **over)), lane)


class Collector:
    """An `enqueue` that remembers what the scheduler released."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lanes: list[str] = []

    def __call__(self, msg: dramatiq.Message[Any]) -> None:
        self.ids.append(msg.message_id)
        self.lanes.append(str(msg.kwargs["lane"]))


def scheduler(
    settings: Settings, clock: ManualClock, r: redis.Redis, **kw: Any
) -> tuple[Scheduler, Collector]:
    got = Collector()
    return Scheduler(settings, clock=clock, client=r, enqueue=got, **kw), got


def admit(
    ledger: Ledger,
    key: str,
    lane: str = "live",
    *,
    tenant: str = "acme",
    user: str = "u1",
    candidates: list[Candidate] | None = None,
) -> Decision:
    return ledger.admit(
        AdmissionRequest(key, tenant, user, lane, candidates or [Candidate("m", 10_000, 1_000)])
    )


def spend(
    ledger: Ledger, micros: int, *, tenant: str = "acme", user: str = "u1", key: str = ""
) -> None:
    """Spend exactly `micros` through the real admit/draw/settle/release, outside the pace."""
    unpaced = Ledger(
        ledger._r,
        ledger._keys,
        ledger._settings.model_copy(update={"pacing": "off"}),
        ledger._clock,
    )
    d = admit(
        unpaced,
        key or f"spend-{micros}-{tenant}-{user}",
        tenant=tenant,
        user=user,
        candidates=[Candidate("m", micros, micros)],
    )
    assert d.kind == "admit" and d.reservation_id, d
    unpaced.draw(d.reservation_id, "c", micros)
    unpaced.settle(d.reservation_id, "c", micros)
    unpaced.release(d.reservation_id)
