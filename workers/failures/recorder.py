"""Records a dead letter for a message dramatiq gives up on (retries exhausted, or permanent).

Most failures are dead-lettered by the actor itself with a precise reason; this catches the
rest (an unexpected exception, admission that kept failing) so nothing fails silently.
It sits before `Retries` in the middleware list: `after_*` hooks run in reverse order, so it
sees the message after `Retries` has decided whether it failed for good.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from pydantic import ValidationError

from shared.errors import PermanentError
from shared.messages import is_ticket_actor
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.dead_letters import DeadLetter
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.failures")


def should_retry(max_retries: int) -> Any:
    """`retry_when` replaces dramatiq's own bound, so it carries ours: transient, and few."""

    def retry_when(retries: int, exc: BaseException) -> bool:
        return retries < max_retries and not isinstance(exc, PermanentError)

    return retry_when


class FailureRecorder(Middleware):
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed or not is_ticket_actor(message.actor_name):
            return
        ctx = self.ctx
        lane = Lane(message.kwargs.get("lane", Lane.LIVE.value))
        doc = message.args[0] if message.args else {}
        try:
            ticket = Ticket.model_validate(doc)
        except ValidationError:
            return  # the actor records poison messages itself
        reason = getattr(exception, "reason", None) or f"worker_error:{type(exception).__name__}"
        attempts = int(message.options.get("retries", 0))
        ctx.dead_letters.record(
            DeadLetter(
                ticket_id=ticket.ticket_id,
                event_id=ticket.event_id,
                tenant_id=ticket.tenant_id,
                lane=lane.value,
                reason=reason,
                error=f"{type(exception).__name__}: {exception}"[:500],
                traceback="".join(traceback.format_exception(exception))[-4000:],
                attempts=attempts,
                failed_at_ms=ctx.now_ms(),
                ticket=ticket.to_message(),
                message_id=message.message_id,
                # dramatiq nacks this message next: its dead-letter copy is keyed by this id.
                redis_message_id=message.options.get("redis_message_id"),
                queue_name=message.queue_name,
            )
        )
        ctx.outcomes.finalize(
            Outcome(
                ticket_id=ticket.ticket_id,
                event_id=ticket.event_id,
                tenant_id=ticket.tenant_id,
                requester_id=ticket.requester.id,
                lane=lane,
                status=OutcomeStatus.DEAD_LETTERED,
                reason=reason,
                attempts=attempts,
                job_id=message.message_id,
                updated_at_ms=ctx.now_ms(),
            )
        )
        log.warning("dead-lettered: %s", reason, extra={"ticket_id": ticket.ticket_id})
