"""Records a dead letter for a message dramatiq gives up on (retries exhausted, or permanent).

Most failures are dead-lettered by the actor itself with a precise reason; this catches the
rest (an unexpected exception, admission that kept failing) so nothing fails silently.
It sits before `Retries` in the middleware list: `after_*` hooks run in reverse order, so it
sees the message after `Retries` has decided whether it failed for good.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from pydantic import ValidationError

from shared.errors import PermanentError
from shared.messages import is_ticket_actor
from shared.models import Lane, Ticket
from workers.failures.dead_letter import record_dead_letter
from workers.worker_context import WorkerContext


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
        lane = Lane(message.kwargs.get("lane", Lane.LIVE.value))
        try:
            ticket = Ticket.model_validate(message.args[0] if message.args else {})
        except ValidationError:
            return  # the actor records poison messages itself
        record_dead_letter(
            self.ctx,
            message,
            lane,
            exception,
            ticket=ticket,
            attempts=int(message.options.get("retries", 0)),
            # dramatiq nacks this message next: its dead-letter copy is keyed by its id.
            nacked=True,
        )
