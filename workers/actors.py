"""Actors are declared against a broker passed in, never against a global default broker."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from shared.messages import actor_for, queue_for
from shared.models import Lane
from workers.handle import handle_ticket
from workers.worker_context import WorkerContext


def register_actors(
    broker: dramatiq.Broker, ctx: WorkerContext, *, queue_prefix: str | None = None
) -> None:
    """One actor per lane (same code, own queue, own priority: live is served first)."""

    # Any arguments are accepted: a malformed message must reach handle_ticket, which
    # dead-letters it with the reason, instead of failing inside dramatiq's call to the actor.
    def _handle(*args: Any, **kwargs: Any) -> None:
        handle_ticket(ctx, CurrentMessage.get_current_message(), args, kwargs)

    for lane in Lane:
        dramatiq.Actor(
            _handle,
            broker=broker,
            actor_name=actor_for(lane),
            queue_name=queue_for(lane, queue_prefix),
            priority=lane.priority * 100,
            options={"max_retries": ctx.settings.max_retries},
        )
