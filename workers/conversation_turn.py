"""A follow-up's turn: whether the agent answers this customer message at all.

Read once per live event (the ticket's state and thread in one round trip), before any model
call. The agent does not answer when:
- the event already has an outcome in the thread (a redelivery): nothing to do;
- a person owns the ticket (escalated, or a human replied since): `human_owned`, recorded;
- the vendor solved or closed the ticket after this message arrived: `human_owned`, recorded;
- a lifetime cap is reached (the ticket's model spend, or its automatic replies): the ticket
  goes to a person with the reason (`escalated`, an acknowledgement posted back), and stays
  theirs until an operator releases it (`paceline tickets release`).
"""

from __future__ import annotations

import logging
from typing import Any

from shared.conversation.caps import max_auto_replies, past_cap
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.stores.threads import Conversation, ThreadStore
from workers.admission.handoff import escalation_target
from workers.conversation_record import finalize
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.worker")
__all__ = ["finalize", "load", "not_answering"]

HANDED_OVER_BODY = (
    "Thank you for your message. A member of our team will take over this conversation and "
    "reply to you personally."
)
ALREADY = "already_answered"


def load(ctx: WorkerContext, ticket: Ticket) -> Conversation:
    return ThreadStore(ctx.redis, ctx.keys).load(ticket.key)


def not_answering(
    ctx: WorkerContext, message: Any, ticket: Ticket, lane: Lane, conv: Conversation
) -> str | None:
    """None when the agent should answer; else why not, with the event's outcome recorded."""
    if conv.answered(ticket.event_id) is not None:
        return ALREADY
    base = Outcome.for_ticket(
        ticket,
        lane,
        OutcomeStatus.HUMAN_OWNED,
        job_id=message.message_id,
        enqueued_at_ms=int(message.message_timestamp),
        updated_at_ms=ctx.now_ms(),
    )
    if conv.human_owned or conv.phase:
        reason = conv.owner_reason or f"ticket_{conv.phase}"
        owned = base.model_copy(update={"reason": reason})
        finalize(ctx, ticket, owned)
        return reason
    # Only a follow-up is held to the lifetime caps: a new ticket's first answer never is.
    if conv.replies or conv.life_micros:
        cap = past_cap(conv, ctx.settings, max_auto_replies(ctx.tenants, ticket.tenant_id))
        if cap is not None:
            handed = base.model_copy(
                update={
                    "status": OutcomeStatus.ESCALATED,
                    "reason": cap,
                    "reply": f"{HANDED_OVER_BODY} Your reference is {ticket.ticket_id}.",
                    "escalation_target": escalation_target(ctx.settings, ticket.tenant_id),
                }
            )
            ctx.replies.send(ticket, handed)
            finalize(ctx, ticket, handed)
            log.info("handed to a person: %s", cap, extra={"ticket_id": ticket.ticket_id})
            return cap
    return None
