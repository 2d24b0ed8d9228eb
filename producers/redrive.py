"""Requeue dead letters into the redrive lane: priced first, paced in dollars, each ticket once,
and nothing lost to a Ctrl-C or a kill.

Per entry, in this order: the ticket must still parse; the ticket's outcome must still be this
event's dead letter (an entry whose ticket was answered since is stale and dropped; one whose
ticket has a newer event is left alone); the pacing wait; then the two-phase take
(shared/stores/dlq_inflight.py): the entry moves to the in-flight set, the outcome is forced
back to `pending` (so admission does not skip the event as already final), the message goes
to the redrive lane and only then is the entry removed. A send that fails, or a stop between
the take and the send, puts the entry back; a run that dies leaves it in flight, and the next
run puts it back before it selects (`recover`).

The message carries the entry's history (earlier deaths of this event: ids, reasons, attempts)
and whether the ticket may post a reply, so a ticket that dies again keeps both.

The estimate per ticket is a bound (producers/replay/estimate.py: the byte bound of subject
and body plus a fixed overhead per call, over `max_steps` calls, capped at
`request_token_cap`), so pacing by it never spends more than `--usd-per-hour`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
from pydantic import ValidationError

from producers.enqueue import shares_redis
from producers.replay.estimate import ReplayEstimator
from shared.clock import Clock, now_ms
from shared.keys import Keys
from shared.ledger import Ledger
from shared.messages import DLQ_HISTORY, POST_REPLIES, queue_for, ticket_message
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.pricing import PriceTable
from shared.settings import Settings
from shared.stores.dead_letters import BATCH, DeadLetter, DeadLetterRegistry, DLQFilter
from shared.stores.dlq_inflight import TAKEN, InFlight, InFlightDeadLetters, RunLease
from shared.stores.live_plan import read_plan
from shared.stores.outcomes import OutcomeStore

# Called after each entry with what became of it and the worst case it added (micros).
ProgressFn = Callable[[str, int], None]
# Waits up to the given seconds; True when the run was asked to stop meanwhile.
WaitFn = Callable[[float], bool]


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
    recovered: int = 0  # stranded in flight by an earlier run, put back before selecting
    interrupted: bool = False


def redrive_headroom(ledger: Ledger, settings: Settings) -> dict[str, int]:
    """What the redrive lane may still spend today, as admission computes it: the ceiling
    minus spent minus reserved minus what is kept for live tickets (the share of
    `PACELINE_LIVE_RESERVE_PCT`, or the live plan's forecast reserve when that is larger)."""
    ceiling = ledger.caps().get("global", settings.ceiling_micros)
    spent = ledger.spent("global")
    reserved = ledger.reserved("global")
    live_reserve = ceiling * settings.live_reserve_pct // 100
    plan = read_plan(ledger._r, ledger._keys)
    if plan is not None and plan.fresh(ledger.now_ms()):
        live_reserve = max(live_reserve, plan.live_reserve)
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
        self.inflight = InFlightDeadLetters(client, keys, clock, settings.outcome_retention_s)
        self.outcomes = OutcomeStore(client, keys, settings.outcome_retention_s)
        self.ledger = Ledger(client, keys, settings, clock)
        self._prefix = queue_prefix
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
                pipe.hmget(self._keys.ticket(entry.outcome_key), ["status", "event_id"])
            states = pipe.execute()
            for entry, ticket, (status, event) in zip(chunk, tickets, states, strict=True):
                dead = status is None or (
                    status == OutcomeStatus.DEAD_LETTERED.value and event == entry.event_id
                )
                yield entry, ticket, dead

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
        wait: WaitFn | None = None,
    ) -> RequeueResult:
        """Send the selected entries; `wait` paces (and stops the run when it says so)."""
        result = RequeueResult(recovered=self.inflight.recover())
        est = ReplayEstimator(self._settings, self._prices)
        pause = wait or self._sleep
        direct = self._prefix is None and shares_redis(broker, self._r)
        next_at_s = self._clock.now_s()
        with RunLease(self._r, self._keys) as lease:
            for entry in self.select(ids, flt):
                worst = 0
                try:
                    ticket = Ticket.model_validate(entry.ticket)
                except ValidationError:
                    kind = _count_failed(result, "invalid_ticket")
                else:
                    outcome = self.outcomes.get(ticket.key)
                    if outcome is not None and outcome.event_id != ticket.event_id:
                        kind = "stale"  # a newer event of this ticket owns its outcome
                    elif outcome is not None and outcome.status is not OutcomeStatus.DEAD_LETTERED:
                        self.registry.claim(entry, "resolved")  # answered or back in flight since
                        kind = "stale"
                    else:
                        before = est.total.worst_micros
                        est.add(ticket)
                        worst = est.total.worst_micros - before
                        if usd_per_hour_micros:
                            # Pace in money: each ticket's bound buys its share of an hour.
                            if pause(max(next_at_s - self._clock.now_s(), 0.0)):
                                result.interrupted = True
                                break
                            next_at_s = max(next_at_s, self._clock.now_s())
                            next_at_s += worst * 3600 / usd_per_hour_micros
                        kind = self._send(broker, entry, ticket, outcome, lease.run_id, direct)
                    if kind == "stale":
                        result.stale += 1
                    elif kind == "requeued":
                        result.requeued += 1
                        result.worst_micros += worst
                    elif kind != "failed":
                        _count_failed(result, kind)
                        kind = "failed"
                if progress is not None:
                    progress(kind, worst if kind == "requeued" else 0)
                if wait is not None and wait(0):
                    result.interrupted = True
                    break
        return result

    def _sleep(self, seconds: float) -> bool:
        self._clock.sleep(seconds)
        return False

    def _send(
        self,
        broker: dramatiq.Broker,
        entry: DeadLetter,
        ticket: Ticket,
        before: Outcome | None,
        run: str,
        direct: bool,
    ) -> str:
        """ "requeued", "stale" (another run has it, or a duplicate), or an error's name."""
        at_ms = now_ms(self._clock)
        message = ticket_message(
            ticket, Lane.REDRIVE, queue_name=self._queue, **_carried_options(entry)
        )
        stamp = before.updated_at_ms if before is not None else 0
        held = InFlight(
            entry.entry_id,
            run,
            message.message_id,
            at_ms,
            before.model_dump_json() if before is not None else None,
            self._keys.dlq_requeued(ticket.idempotency_key, stamp),
        )
        got = self.inflight.take(entry, held)
        if got != TAKEN:
            return "stale"  # another run has it, or it was a duplicate of one requeued
        try:
            # Pending first, then the message: a worker that saw the old final state would
            # skip it as already answered.
            self.outcomes.force(_pending(ticket, entry, message.message_id, at_ms))
            if direct:
                rid = str(uuid.uuid4())
                queued = message.copy(options={"redis_message_id": rid})
                sent = self.inflight.finish(
                    entry,
                    run,
                    queue_key=self._keys.dramatiq_queue(message.queue_name),
                    redis_message_id=rid,
                    encoded=queued.encode(),
                )
            else:
                broker.enqueue(message)  # confirmed: RabbitMQ runs with publisher confirms
                sent = self.inflight.finish(entry, run)
        except BaseException as exc:
            # Interrupted or refused: the entry goes back exactly as it was.
            self.inflight.put_back(entry, held, own=True)
            if not isinstance(exc, Exception):
                raise
            return type(exc).__name__
        if not sent:
            # A recovery gave the entry back while this run was stalled: it was not sent.
            self.inflight.restore_outcome(entry, held)
            return "stale"
        return "requeued"

    def purge(
        self, ids: list[str], flt: DLQFilter, progress: Callable[[str], None] | None = None
    ) -> int:
        removed = 0
        for entry in self.select(ids, flt):
            removed += int(self.registry.claim(entry, "purged"))
            if progress is not None:
                progress("purged")
        return removed


def _pending(ticket: Ticket, entry: DeadLetter, job_id: str, at_ms: int) -> Outcome:
    return Outcome.for_ticket(
        ticket,
        Lane.REDRIVE,
        OutcomeStatus.PENDING,
        reason=f"requeued:{entry.reason}",
        job_id=job_id,
        enqueued_at_ms=at_ms,
        updated_at_ms=at_ms,
    )


def _carried_options(entry: DeadLetter) -> dict[str, Any]:
    """What the redriven message carries: the entry's history, and whether it may reply (a
    replayed ticket keeps the answer its replay gave)."""
    options: dict[str, Any] = {DLQ_HISTORY: [*entry.history, entry.as_history()]}
    post = entry.post_replies
    if post is None and entry.lane == Lane.REPLAY.value:
        post = False
    if post is not None:
        options[POST_REPLIES] = post
    return options


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
