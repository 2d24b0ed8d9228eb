"""Requeue dead letters into the redrive lane: priced first, paced in dollars, each ticket once.

Per entry, in this order: the ticket must still parse; the ticket's outcome must still be this
event's dead letter (an entry whose ticket was answered since, or that another requeue already
took, is stale and only dropped); `claim` removes the entry atomically, so of two operators
draining the same reason exactly one requeues it; the outcome is forced back to `pending` so
admission does not skip the event as already final; then a fresh message (no retries counted)
goes to the redrive lane. If the send fails the entry is put back and counted as failed.

The estimate per ticket is a bound (producers/replay/estimate.py: the byte bound of subject
and body plus a fixed overhead per call, over `max_steps` calls, capped at
`request_token_cap`), so pacing by it never spends more than `--usd-per-hour`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
from pydantic import ValidationError

from producers.replay.estimate import ReplayEstimator
from shared.clock import Clock, now_ms
from shared.keys import Keys
from shared.ledger import Ledger
from shared.messages import queue_for, ticket_message
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.pricing import PriceTable
from shared.settings import Settings
from shared.stores.dead_letters import BATCH, DeadLetter, DeadLetterRegistry, DLQFilter
from shared.stores.outcomes import OutcomeStore

ProgressFn = Callable[[str], None]
REQUEUE_MARKER_TTL_S = 24 * 3600


@dataclass
class RedrivePlan:
    """What a requeue would send and what it may cost (the dry run)."""

    tickets: int = 0
    stale: int = 0
    invalid: int = 0
    likely_micros: int = 0
    worst_micros: int = 0


@dataclass
class RequeueResult:
    requeued: int = 0
    stale: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    worst_micros: int = 0


@dataclass(frozen=True)
class _Taken:
    marker: str
    outcome: Outcome | None


def redrive_headroom(ledger: Ledger, settings: Settings) -> dict[str, int]:
    """What the redrive lane may still spend today, as admission computes it: the ceiling
    minus spent minus reserved minus the share kept for live tickets."""
    ceiling = ledger.caps().get("global", settings.ceiling_micros)
    spent = ledger.spent("global")
    reserved = ledger.reserved("global")
    live_reserve = ceiling * settings.live_reserve_pct // 100
    available = max(ceiling - live_reserve - spent - reserved, 0)
    return {
        "ceiling_micros": ceiling,
        "spent_micros": spent,
        "reserved_micros": reserved,
        "live_reserve_micros": live_reserve,
        "available_micros": available,
    }


class Redrive:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        prices: PriceTable,
        *,
        queue_prefix: str | None = None,
    ) -> None:
        self._settings = settings
        self._r = client
        self._clock = clock
        self._prices = prices
        self._keys = keys
        self.registry = DeadLetterRegistry(client, keys, clock)
        self.outcomes = OutcomeStore(client, keys)
        self.ledger = Ledger(client, keys, settings, clock)
        self._queue = queue_for(Lane.REDRIVE, queue_prefix)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def queue_name(self) -> str:
        return self._queue

    # --- selection ---------------------------------------------------------------------
    def select(self, ids: list[str], flt: DLQFilter) -> Iterator[DeadLetter]:
        """Explicit ids, else every entry matching the filter that failed before now (a
        ticket that fails again during the run is not picked up a second time)."""
        if ids:
            for entry_id in ids:
                entry = self.registry.get(entry_id)
                if entry is not None and flt.matches(entry):
                    yield entry
            return
        if flt.until_ms is None:
            flt = DLQFilter(flt.reason, flt.tenant, flt.since_ms, now_ms(self._clock), flt.text)
        yield from self.registry.iter_entries(flt)

    def _checked(
        self, entries: Iterable[DeadLetter]
    ) -> Iterator[tuple[DeadLetter, Ticket | None, bool]]:
        """(entry, ticket or None if invalid, still dead) with outcome reads pipelined."""
        for chunk in _chunks(entries, BATCH):
            tickets: list[Ticket | None] = []
            for entry in chunk:
                try:
                    tickets.append(Ticket.model_validate(entry.ticket))
                except ValidationError:
                    tickets.append(None)
            pipe = self._r.pipeline(transaction=False)
            for entry in chunk:
                pipe.hmget(self.outcomes_key(entry.ticket_id), ["status", "event_id"])
            states = pipe.execute()
            for entry, ticket, (status, event) in zip(chunk, tickets, states, strict=True):
                dead = status is None or (
                    status == OutcomeStatus.DEAD_LETTERED.value and event == entry.event_id
                )
                yield entry, ticket, dead

    def outcomes_key(self, ticket_id: str) -> str:
        return self._keys.ticket(ticket_id)

    # --- pricing -----------------------------------------------------------------------
    def plan(self, ids: list[str], flt: DLQFilter) -> RedrivePlan:
        plan = RedrivePlan()
        est = ReplayEstimator(self._settings, self._prices)
        for _, ticket, dead in self._checked(self.select(ids, flt)):
            if ticket is None:
                plan.invalid += 1
            elif not dead:
                plan.stale += 1
            else:
                est.add(ticket)
        plan.tickets = est.total.tickets
        plan.likely_micros = est.total.likely_micros
        plan.worst_micros = est.total.worst_micros
        return plan

    # --- the requeue -------------------------------------------------------------------
    def requeue(
        self,
        broker: dramatiq.Broker,
        ids: list[str],
        flt: DLQFilter,
        *,
        usd_per_hour_micros: int | None = None,
        progress: ProgressFn | None = None,
    ) -> RequeueResult:
        result = RequeueResult()
        est = ReplayEstimator(self._settings, self._prices)
        next_at_s = self._clock.now_s()
        for entry in self.select(ids, flt):
            try:
                ticket = Ticket.model_validate(entry.ticket)
            except ValidationError:
                kind = self._count_failed(result, "invalid_ticket")
            else:
                taken = self._take(entry, ticket)
                if taken is None:
                    result.stale += 1
                    kind = "stale"
                else:
                    before = est.total.worst_micros
                    est.add(ticket)
                    worst = est.total.worst_micros - before
                    if usd_per_hour_micros:
                        # Pace in money: each ticket's bound buys its share of an hour.
                        self._clock.sleep(next_at_s - self._clock.now_s())
                        next_at_s = max(next_at_s, self._clock.now_s())
                        next_at_s += worst * 3600 / usd_per_hour_micros
                    kind = self._send(broker, entry, ticket, taken, result)
                    if kind == "requeued":
                        result.worst_micros += worst
            if progress is not None:
                progress(kind)
        return result

    def _take(self, entry: DeadLetter, ticket: Ticket) -> _Taken | None:
        """Not None for the one caller that may requeue this dead letter.

        The marker is keyed by the dead-lettered outcome's time, so a ticket is requeued once
        per time it died: a second entry for the same death, a concurrent requeue, or an entry
        whose ticket was answered since are all refused (and the same-event ones dropped)."""
        outcome = self.outcomes.get(ticket.ticket_id)
        if outcome is not None and outcome.event_id != ticket.event_id:
            return None  # a newer event of this ticket owns its outcome: leave this entry
        if outcome is not None and outcome.status is not OutcomeStatus.DEAD_LETTERED:
            self.registry.claim(entry, "resolved")  # answered or back in flight: nothing to add
            return None
        stamp = outcome.updated_at_ms if outcome is not None else 0
        marker = self._keys.dlq_requeued(ticket.idempotency_key, stamp)
        if not self._r.set(marker, entry.entry_id, nx=True, ex=REQUEUE_MARKER_TTL_S):
            # Another requeue holds this death. If it holds this very entry it is taking it
            # now: leave the entry to it (claiming it here would make its claim fail and drop
            # the dead letter unrequeued). Otherwise this entry is a duplicate: drop it.
            if self._r.get(marker) != entry.entry_id:
                self.registry.claim(entry, "duplicate")
            return None
        if not self.registry.claim(entry):
            self._r.delete(marker)  # purged under us
            return None
        return _Taken(marker, outcome)

    def _send(
        self,
        broker: dramatiq.Broker,
        entry: DeadLetter,
        ticket: Ticket,
        taken: _Taken,
        result: RequeueResult,
    ) -> str:
        at_ms = now_ms(self._clock)
        message = ticket_message(ticket, Lane.REDRIVE, queue_name=self._queue)
        # Pending first, then the message: a worker that saw the old final state would skip it.
        try:
            self.outcomes.force(
                Outcome(
                    ticket_id=ticket.ticket_id,
                    event_id=ticket.event_id,
                    tenant_id=ticket.tenant_id,
                    requester_id=ticket.requester.id,
                    lane=Lane.REDRIVE,
                    status=OutcomeStatus.PENDING,
                    reason=f"requeued:{entry.reason}",
                    job_id=message.message_id,
                    enqueued_at_ms=at_ms,
                    updated_at_ms=at_ms,
                )
            )
            broker.enqueue(message)
        except Exception as exc:
            # Put it back exactly as it was: the operator can retry the requeue.
            self.registry.record(entry)
            if taken.outcome is not None:
                self.outcomes.force(taken.outcome)
            self._r.delete(taken.marker)
            return self._count_failed(result, type(exc).__name__)
        result.requeued += 1
        return "requeued"

    def purge(self, ids: list[str], flt: DLQFilter, progress: ProgressFn | None = None) -> int:
        removed = 0
        for entry in self.select(ids, flt):
            removed += int(self.registry.claim(entry, "purged"))
            if progress is not None:
                progress("purged")
        return removed

    @staticmethod
    def _count_failed(result: RequeueResult, why: str) -> str:
        result.failed += 1
        result.errors[why] = result.errors.get(why, 0) + 1
        return "failed"


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
