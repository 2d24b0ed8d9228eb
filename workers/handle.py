"""The main flow of one ticket, top to bottom: admitted -> agent -> settle -> outcome -> reply.

Admission already happened in the middleware (the reservation is in the message options);
every model call the agent makes draws from it first and settles after. A ticket ends in
exactly one visible state (invariant 2): answered or escalated here, parked when the provider
is down, dead-lettered with a reason when retrying cannot help.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from shared.errors import AdmissionError, BudgetError, InvalidTicket, PermanentError, TransientError
from shared.ledger import ReservationBudget
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.dead_letters import DeadLetter
from shared.stores.parking import parkable
from workers.admission.middleware import CLOSED, OPTION
from workers.message_shape import poison_doc, read_ticket_message
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.worker")

# A ticket the provider could not serve waits this long (then doubles, up to the cap).
PROVIDER_PARK_BASE_MS = 5_000
PROVIDER_PARK_MAX_MS = 300_000
# A reply held by another sender's claim (one killed mid-POST) is tried again when the claim
# lapses, up to REPLY_ATTEMPTS in all; any other transient failure once more after
# REPLY_BACKOFF_S. Each attempt holds a worker thread (up to the reply timeout), so a
# receiver that stays down costs a thread two timeouts per ticket, not more.
REPLY_ATTEMPTS = 3
REPLY_BACKOFF_S = 1.0


def _reply_max_wait_s(ctx: WorkerContext) -> float:
    # A sender's claim lasts max(30 s, 3 reply timeouts) (producers/replies/deliver.py).
    return max(30.0, ctx.settings.reply_timeout_s * 3) + 1


def handle_ticket(ctx: WorkerContext, message: Any, args: Any, kwargs: Any) -> None:
    opts: dict[str, Any] = message.options.get(OPTION) or {}
    read = read_ticket_message(message.actor_name, args, kwargs)
    lane_, ticket_or_none = read.lane, read.ticket
    if ticket_or_none is None:
        dead_letter_invalid(ctx, message, poison_doc(args), lane_, read.problem or "not a ticket")
        return
    if "reservation_id" not in opts:
        # Admission did not run to completion; never answer a ticket that was not paid for.
        raise AdmissionError("no reservation on the message")
    ticket = ticket_or_none
    rid = str(opts["reservation_id"])
    budget = ReservationBudget(ctx.ledger, rid, int(opts["grant_micros"]))
    started_ms = ctx.now_ms()
    base = _base_outcome(ticket, lane_, message, rid)
    assert ctx.agent is not None

    try:
        result = ctx.agent.run(ticket, budget, model=str(opts["model"]))
    except TransientError as exc:
        # The provider is still failing after our bounded retries: park, don't dead-letter.
        _close(ctx, opts, rid)
        parks = int(message.options.get("provider_parks", 0)) + 1
        delay_ms = min(PROVIDER_PARK_BASE_MS * 2 ** (parks - 1), PROVIDER_PARK_MAX_MS)
        if exc.retry_after_s:
            delay_ms = max(delay_ms, int(exc.retry_after_s * 1000))
        park_after_failure(ctx, message, ticket, lane_, ctx.now_ms() + delay_ms, exc.reason, parks)
        return
    except BudgetError as exc:
        # The money went away under us (a lost lease): wait and be admitted again, no retry.
        _close(ctx, opts, rid)
        park_after_failure(
            ctx,
            message,
            ticket,
            lane_,
            ctx.now_ms() + PROVIDER_PARK_BASE_MS,
            type(exc).__name__,
            int(message.options.get("provider_parks", 0)),
        )
        return
    except PermanentError as exc:
        spent = _spent_on(ctx, rid)
        _close(ctx, opts, rid)
        dead_letter(ctx, message, ticket, lane_, exc, spent)
        return

    outcome = base.model_copy(
        update={
            "status": OutcomeStatus(result.status),
            "reason": result.reason,
            "reply": result.reply,
            "model": result.model,
            "llm_calls": result.llm_calls,
            "steps": result.steps,
            "tools_used": list(result.tools_used),
            "prompt_tokens": result.prompt_tokens,
            "cached_tokens": result.cached_tokens,
            "completion_tokens": result.completion_tokens,
            "cost_micros": result.cost_micros,
            "attempts": result.attempts,
            "latency_ms": _latency_ms(ctx, ticket, base, started_ms),
            "updated_at_ms": ctx.now_ms(),
        }
    )
    deliver(ctx, ticket, outcome)
    ctx.outcomes.finalize(outcome)
    _close(ctx, opts, rid)
    log.info(
        "ticket %s",
        outcome.status.value,
        extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id, "reservation_id": rid},
    )


def deliver(ctx: WorkerContext, ticket: Ticket, outcome: Outcome) -> None:
    """Post the reply back (callback URL or the vendor's API); idempotent per ticket event.

    A transient failure is tried again before the ticket ends (the answer is already paid
    for; re-running the agent to retry a POST would pay twice): a claim left by a worker
    killed mid-POST is waited out to its lease, a receiver's blip gets one more try. Still
    failing, the answer is kept and the outcome's reason says the reply did not go out."""
    deliver_reply = ctx.extras.get("deliver_reply")
    if deliver_reply is None:
        return
    for attempt in range(1, REPLY_ATTEMPTS + 1):
        try:
            deliver_reply(ticket, outcome.public())
            return
        except TransientError as exc:
            problem: Exception = exc
            claimed = exc.reason == "reply_in_flight"
            if attempt == REPLY_ATTEMPTS or (attempt >= 2 and not claimed):
                break
            wait = min(exc.retry_after_s or REPLY_BACKOFF_S, _reply_max_wait_s(ctx))
            ctx.clock.sleep(wait if claimed else REPLY_BACKOFF_S)
        except Exception as exc:  # permanent: the answer is kept, the operator sees the reason
            problem = exc
            break
    log.warning(
        "reply delivery failed: %s", type(problem).__name__, extra={"ticket_id": ticket.ticket_id}
    )
    outcome.reason = (outcome.reason + "; " if outcome.reason else "") + "reply_delivery_failed"


def _base_outcome(ticket: Ticket, lane: Lane, message: Any, rid: str | None) -> Outcome:
    return Outcome.for_ticket(
        ticket,
        lane,
        OutcomeStatus.PENDING,
        job_id=message.message_id,
        reservation_id=rid,
        enqueued_at_ms=int(message.message_timestamp),
    )


def _latency_ms(ctx: WorkerContext, ticket: Ticket, base: Outcome, started_ms: int) -> int:
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


def dead_letter(
    ctx: WorkerContext,
    message: Any,
    ticket: Ticket,
    lane: Lane,
    exc: BaseException,
    cost_micros: int,
) -> None:
    reason = getattr(exc, "reason", type(exc).__name__)
    ctx.dead_letters.record(
        DeadLetter(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            tenant_id=ticket.tenant_id,
            lane=lane.value,
            reason=reason,
            error=f"{type(exc).__name__}: {exc}"[:500],
            traceback="".join(traceback.format_exception(exc))[-4000:],
            attempts=int(getattr(exc, "attempts", 1)),
            cost_micros=cost_micros,
            failed_at_ms=ctx.now_ms(),
            ticket=ticket.to_message(),
            message_id=message.message_id,
        )
    )
    ctx.outcomes.finalize(
        _base_outcome(ticket, lane, message, None).model_copy(
            update={
                "status": OutcomeStatus.DEAD_LETTERED,
                "reason": reason,
                "cost_micros": cost_micros,
                "attempts": int(getattr(exc, "attempts", 1)),
                "updated_at_ms": ctx.now_ms(),
            }
        )
    )
    report = ctx.extras.get("report_dead_letter")
    if report is not None:
        report(reason=reason, ticket_id=ticket.ticket_id, tenant_id=ticket.tenant_id)


def dead_letter_invalid(
    ctx: WorkerContext, message: Any, doc: dict[str, Any], lane: Lane, why: str
) -> None:
    """A poison message: record what can be read of it, under a synthetic id if need be."""
    ticket_id = str(doc.get("ticket_id") or f"invalid-{message.message_id}")[:200]
    err = InvalidTicket(f"not a ticket: {why}")
    ctx.dead_letters.record(
        DeadLetter(
            ticket_id=ticket_id,
            event_id=str(doc.get("event_id") or message.message_id)[:200],
            tenant_id=str(doc.get("tenant_id") or "")[:100],
            lane=lane.value,
            reason=err.reason,
            error=str(err)[:500],
            attempts=1,
            failed_at_ms=ctx.now_ms(),
            ticket=doc,
            message_id=message.message_id,
        )
    )
    ctx.outcomes.finalize(
        Outcome(
            ticket_id=ticket_id,
            event_id=str(doc.get("event_id") or message.message_id)[:200],
            tenant_id=str(doc.get("tenant_id") or "")[:100],
            lane=lane,
            status=OutcomeStatus.DEAD_LETTERED,
            reason=err.reason,
            attempts=1,
            job_id=message.message_id,
            updated_at_ms=ctx.now_ms(),
        )
    )
