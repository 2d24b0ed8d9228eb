"""The main flow of one ticket, top to bottom: run -> reply -> record -> close.

Admission already happened (workers/admission/): the reservation is in the message's options.
Then, here:
1. run: the agent answers or escalates; every model call draws from the reservation first and
   settles after;
2. reply: the answer is posted back (callback URL or the vendor's API), once per ticket event;
3. record: the outcome's final state is written, once per event;
4. close: the reservation is closed, giving back what the ticket did not spend.
A ticket ends in exactly one visible state (invariant 2): answered or escalated here, parked
when the provider is down or its money went away, dead-lettered with a reason when retrying
cannot help.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from shared.conversation import hooks
from shared.errors import AdmissionError, BudgetError, InvalidTicket, PermanentError, TransientError
from shared.history.emit import thread_messages
from shared.ledger import ReservationBudget
from shared.messages import may_post_reply
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.redact import ticket_text
from shared.stores.parking import parkable
from workers import conversation_record, conversation_turn
from workers.admission.decision import CLOSED, OPTION
from workers.agent.prompt import has_thread
from workers.failures.dead_letter import record_dead_letter
from workers.message_shape import poison_doc, read_ticket_message
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.worker")

# A ticket the provider could not serve waits this long (then doubles, up to the cap).
PROVIDER_PARK_BASE_MS = 5_000
PROVIDER_PARK_MAX_MS = 300_000


def handle_ticket(ctx: WorkerContext, message: Any, args: Any, kwargs: Any) -> None:
    # What the handling holds for log redaction beyond the message's own text (the ticket's
    # thread, workers/ticket_text.py holds the rest), released when it returns.
    with contextlib.ExitStack() as held:
        _handle(ctx, message, args, kwargs, held)


def _handle(
    ctx: WorkerContext, message: Any, args: Any, kwargs: Any, held: contextlib.ExitStack
) -> None:
    opts: dict[str, Any] = message.options.get(OPTION) or {}
    read = read_ticket_message(message.actor_name, args, kwargs)
    lane, ticket = read.lane, read.ticket
    if ticket is None:
        error = InvalidTicket(f"not a ticket: {read.problem or 'not a ticket'}")
        record_dead_letter(ctx, message, lane, error, doc=poison_doc(args))
        return
    if "reservation_id" not in opts:
        # Admission did not run to completion; never answer a ticket that was not paid for.
        raise AdmissionError("no reservation on the message")
    rid = str(opts["reservation_id"])
    grant = int(opts["grant_micros"])
    if opts.get("fresh"):
        budget = ReservationBudget.fresh(ctx.ledger, rid, grant)
    else:
        budget = ReservationBudget(ctx.ledger, rid, grant)
    started_ms = ctx.now_ms()
    base = _base_outcome(ticket, lane, message, rid)
    assert ctx.agent is not None

    # 0. a live event is a turn of its ticket's conversation: a person may own it, or a
    # lifetime cap have been reached (workers/conversation_turn.py); then no model call.
    thread = None
    if lane is Lane.LIVE:
        conv = conversation_turn.load(ctx, ticket)
        held.enter_context(ticket_text(*conv.texts()))
        if conversation_turn.not_answering(ctx, message, ticket, lane, conv) is not None:
            _close(ctx, opts, rid)
            return
        if has_thread(ticket):
            thread = (conv.before(ticket.event_id), conv.cut)

    # 1. run
    try:
        result = ctx.agent.run(ticket, budget, model=str(opts["model"]), thread=thread)
    except TransientError as exc:
        # The provider is still failing after our bounded retries: park, don't dead-letter.
        _close(ctx, opts, rid)
        parks = int(message.options.get("provider_parks", 0)) + 1
        delay_ms = min(PROVIDER_PARK_BASE_MS * 2 ** (parks - 1), PROVIDER_PARK_MAX_MS)
        if exc.retry_after_s:
            delay_ms = max(delay_ms, int(exc.retry_after_s * 1000))
        park_after_failure(ctx, message, ticket, lane, ctx.now_ms() + delay_ms, exc.reason, parks)
        return
    except BudgetError as exc:
        # The money went away under us (a lost lease): wait and be admitted again, no retry.
        _close(ctx, opts, rid)
        parks = int(message.options.get("provider_parks", 0))
        until_ms = ctx.now_ms() + PROVIDER_PARK_BASE_MS
        park_after_failure(ctx, message, ticket, lane, until_ms, type(exc).__name__, parks)
        return
    except PermanentError as exc:
        spent = _spent_on(ctx, rid)
        _close(ctx, opts, rid)
        record_dead_letter(
            ctx, message, lane, exc, ticket=ticket, attempts=exc.attempts, cost_micros=spent
        )
        return

    profile = ctx.tenants.profile(ticket.tenant_id)
    answered = result.status == "answered"
    outcome = base.model_copy(
        update={
            "status": OutcomeStatus(result.status),
            "visibility": (
                profile.visibility(answered=answered, grounded=result.grounded)
                if result.reply
                else None
            ),
            "escalation_target": (
                profile.escalation.label() if profile.escalation and not answered else None
            ),
            "reason": result.reason,
            "reply": result.reply,
            "model": result.model,
            "llm_calls": result.llm_calls,
            "steps": result.steps,
            "tools_used": list(result.tools_used),
            "articles": list(result.articles),
            "prompt_tokens": result.prompt_tokens,
            "cached_tokens": result.cached_tokens,
            "completion_tokens": result.completion_tokens,
            "cost_micros": result.cost_micros,
            "attempts": result.attempts,
            "latency_ms": _latency_ms(ctx, base, started_ms),
            "updated_at_ms": ctx.now_ms(),
        }
    )
    # 2. reply (a failure to post is kept on the outcome's reason; a replay posts nothing
    # unless it asked), 3. record, 4. close
    if may_post_reply(lane, message.options):
        ctx.replies.send(ticket, outcome)
    if lane is Lane.LIVE:
        recorded = conversation_record.record(ctx, ticket, outcome)
    else:
        recorded = ctx.outcomes.finalize(outcome, thread_messages(ticket, outcome))
    _close_and_count(ctx, opts, rid, lane, outcome if recorded else None, ticket)
    log.info(
        "ticket %s",
        outcome.status.value,
        extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id, "reservation_id": rid},
    )


def _close_and_count(
    ctx: WorkerContext,
    opts: dict[str, Any],
    rid: str,
    lane: Lane,
    recorded: Outcome | None,
    ticket: Ticket,
) -> None:
    """Close the reservation and, for an outcome recorded just now (not a repeat's), count
    what the forecast learns from and tell the resolutions (the hooks' answered or escalated
    event), in one round trip. Both are best effort: the ticket is already answered."""
    trip = ctx.ledger.round_trip()
    trip.script(*ctx.ledger.release_script(rid))
    resolution = None
    if recorded is not None:
        _queue_demand(ctx, trip, lane, recorded)
        resolution = _queue_resolution(ctx, trip, ticket, lane, recorded)
    replies = trip.execute()
    ctx.ledger.release_reply(replies[0])
    opts[CLOSED] = True
    if resolution is not None and isinstance(replies[resolution], Exception):
        log.warning(
            "resolution not recorded: %s",
            type(replies[resolution]).__name__,
            extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id},
        )
    failed = [
        reply
        for i, reply in enumerate(replies[1:], 1)
        if i != resolution and isinstance(reply, Exception)
    ]
    if failed:
        log.warning("demand not recorded: %s", type(failed[0]).__name__)


def _queue_demand(ctx: WorkerContext, pipe: Any, lane: Lane, outcome: Outcome) -> None:
    """What the forecast learns from: the run's cost and usage by model, and a live ticket's
    first response against the SLO."""
    now_s = ctx.clock.now_s()
    if outcome.llm_calls and outcome.model:
        ctx.demand.record_run(
            pipe,
            now_s,
            outcome.model,
            cost_micros=outcome.cost_micros,
            prompt_tokens=outcome.prompt_tokens,
            cached_tokens=outcome.cached_tokens,
            completion_tokens=outcome.completion_tokens,
        )
    if lane is Lane.LIVE and outcome.latency_ms is not None:
        ctx.demand.record_first_response(
            pipe, now_s, outcome.latency_ms, slo_s(ctx, outcome.tenant_id), handoff=False
        )


def _queue_resolution(
    ctx: WorkerContext, trip: Any, ticket: Ticket, lane: Lane, outcome: Outcome
) -> int | None:
    """A live or redriven answer starts the ticket's resolution window, an escalation makes
    it unresolved (the hooks' event, sent in the close's round trip); a replay of history is
    no conversation. Returns the event's reply slot, if one was queued."""
    if lane not in (Lane.LIVE, Lane.REDRIVE):
        return None
    try:
        call = hooks.agent_outcome_call(
            ctx.redis, ctx.keys, outcome.status.value, ticket.tenant_id, ticket.source,
            ticket.ticket_id, outcome.updated_at_ms,
        )  # fmt: skip
    except Exception as exc:  # never into the close: the outcome is already stored
        log.warning("resolution not recorded: %s", type(exc).__name__)
        return None
    return None if call is None else int(trip.script(*call))


def slo_s(ctx: WorkerContext, tenant: str) -> int:
    """The tenant's first-response SLO (its profile's, else the settings')."""
    return ctx.tenants.profile(tenant).live_max_wait_s or ctx.settings.live_max_wait_s


def _base_outcome(ticket: Ticket, lane: Lane, message: Any, rid: str | None) -> Outcome:
    return Outcome.for_ticket(
        ticket,
        lane,
        OutcomeStatus.PENDING,
        job_id=message.message_id,
        reservation_id=rid,
        enqueued_at_ms=int(message.message_timestamp),
    )


def _latency_ms(ctx: WorkerContext, base: Outcome, started_ms: int) -> int:
    """From enqueue to answer: what the customer waited (parking included)."""
    return max(ctx.now_ms() - (base.enqueued_at_ms or started_ms), 0)


def _close(ctx: WorkerContext, opts: dict[str, Any], rid: str) -> None:
    """Close the reservation now, and say so (the middleware would close it otherwise)."""
    ctx.ledger.release(rid)
    opts[CLOSED] = True


def _spent_on(ctx: WorkerContext, rid: str) -> int:
    r = ctx.ledger.reservation(rid)
    return int(r.get("settled", 0) or 0)


def park_after_failure(
    ctx: WorkerContext,
    message: Any,
    ticket: Ticket,
    lane: Lane,
    until_ms: int,
    reason: str,
    parks: int,
) -> None:
    clean = parkable(message, provider_parks=parks)
    ctx.parking.park(clean, lane, until_ms, reason)
    ctx.outcomes.update(
        _base_outcome(ticket, lane, message, None).model_copy(
            update={"status": OutcomeStatus.PARKED, "reason": reason, "updated_at_ms": ctx.now_ms()}
        )
    )
