"""The one way a ticket is dead-lettered, whoever finds it cannot go on.

Three callers: the actor for a permanent error and for a poison message (a precise reason),
and `FailureRecorder` for a message dramatiq gives up on (retries exhausted, or an unexpected
exception). Each does the same four things, in this order: the registry entry (with the ticket,
so an operator can requeue it), the final outcome, a log line, and one Sentry event (none
per transient attempt: those are dropped by the scrubber; see shared/telemetry.py).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from shared.messages import DLQ_HISTORY, POST_REPLIES
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.dead_letters import DeadLetter
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.failures")


def failure_reason(error: BaseException) -> str:
    """An error's reason code: its own (paceline's errors carry one), else the worker's."""
    reason = getattr(error, "reason", None)
    return str(reason) if reason else f"worker_error:{type(error).__name__}"


def record_dead_letter(
    ctx: WorkerContext,
    message: Any,
    lane: Lane,
    error: BaseException,
    *,
    ticket: Ticket | None = None,
    doc: dict[str, Any] | None = None,
    attempts: int = 1,
    cost_micros: int = 0,
    nacked: bool = False,
) -> DeadLetter:
    """Dead-letter `ticket` (or, for a poison message, what can be read of it: `doc`).

    `nacked`: dramatiq fails the message next and keeps its own copy, keyed by the message's
    `redis_message_id`; the entry notes it, so removing the entry removes that copy too.
    """
    reason = failure_reason(error)
    now_ms = ctx.now_ms()
    if ticket is not None:
        ticket_id, event_id, tenant_id = ticket.ticket_id, ticket.event_id, ticket.tenant_id
        kept = ticket.to_message()
        outcome = Outcome.for_ticket(ticket, lane, OutcomeStatus.DEAD_LETTERED)
    else:
        kept = doc or {}
        ticket_id = str(kept.get("ticket_id") or f"invalid-{message.message_id}")[:200]
        event_id = str(kept.get("event_id") or message.message_id)[:200]
        tenant_id = str(kept.get("tenant_id") or "")[:100]
        source = kept.get("source")
        outcome = Outcome(
            ticket_id=ticket_id,
            event_id=event_id,
            tenant_id=tenant_id,
            source=source if isinstance(source, str) else "generic",
            lane=lane,
            status=OutcomeStatus.DEAD_LETTERED,
        )
    entry = DeadLetter(
        ticket_id=ticket_id,
        event_id=event_id,
        tenant_id=tenant_id,
        lane=lane.value,
        reason=reason,
        error=(f"{type(error).__name__}: {error}" if ticket is not None else str(error))[:500],
        traceback=_traceback(error),
        attempts=attempts,
        cost_micros=cost_micros,
        failed_at_ms=now_ms,
        ticket=kept,
        message_id=message.message_id,
        redis_message_id=message.options.get("redis_message_id") if nacked else None,
        queue_name=message.queue_name if nacked else None,
        history=list(message.options.get(DLQ_HISTORY) or []),
        post_replies=message.options.get(POST_REPLIES),
    )
    ctx.dead_letters.record(entry)
    ctx.outcomes.finalize(
        outcome.model_copy(
            update={
                "reason": reason,
                "cost_micros": cost_micros,
                "attempts": attempts,
                "job_id": message.message_id,
                "enqueued_at_ms": _enqueued_at_ms(message),
                "updated_at_ms": now_ms,
            }
        )
    )
    log.warning("dead-lettered: %s", reason, extra={"ticket_id": ticket_id})
    ctx.report_dead_letter(entry)
    return entry


def _traceback(error: BaseException) -> str:
    """The last 4,000 characters of the traceback; none for an error that was never raised."""
    if error.__traceback__ is None:
        return ""
    return "".join(traceback.format_exception(error))[-4000:]


def _enqueued_at_ms(message: Any) -> int | None:
    stamp = getattr(message, "message_timestamp", None)
    return int(stamp) if stamp is not None else None
