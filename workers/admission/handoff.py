"""Handing a live ticket to a person for the first-response SLO: a final outcome, no model money.

The outcome is `escalated` with reason `slo_handoff` and the polite acknowledgement as its
reply, which goes back to the ticketing system as every escalation's does (callback URL or the
vendor's API). `escalation_target` says who picks it up there.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.conversation import hooks
from shared.history.emit import thread_messages
from shared.models import Lane, Outcome, OutcomeStatus, Ticket
from shared.settings import Settings
from shared.tenants import profile_for
from workers.admission.acknowledge import acknowledge_handoff
from workers.admission.slo import HANDOFF_REASON
from workers.conversation_record import finalize
from workers.worker_context import WorkerContext

log = logging.getLogger("paceline.admission")

# The ticketing system's own routing for tickets the assistant does not answer.
VENDOR_DEFAULT = "vendor_default"


def escalation_target(settings: Settings, tenant_id: str) -> str:
    """Where a tenant's hand-offs go: its profile's group or assignee, else the vendor's
    default routing."""
    target = profile_for(tenant_id).escalation
    return target.label() if target is not None else VENDOR_DEFAULT


def hand_off(ctx: WorkerContext, message: Any, ticket: Ticket, lane: Lane) -> None:
    now_ms = ctx.now_ms()
    accepted_ms = int(message.message_timestamp)
    waited_ms = max(now_ms - accepted_ms, 0)
    outcome = Outcome.for_ticket(
        ticket,
        lane,
        OutcomeStatus.ESCALATED,
        reason=HANDOFF_REASON,
        reply=acknowledge_handoff(ticket),
        escalation_target=escalation_target(ctx.settings, ticket.tenant_id),
        visibility=ctx.tenants.profile(ticket.tenant_id).visibility(answered=False, grounded=False),
        job_id=message.message_id,
        enqueued_at_ms=accepted_ms,
        latency_ms=waited_ms,
        updated_at_ms=now_ms,
    )
    # As the actor does: the reply first (its failure is kept on the reason), then the record
    # (a live ticket's as a turn of its conversation: the hand-off sticks).
    ctx.replies.send(ticket, outcome)
    if lane is Lane.LIVE:
        recorded = finalize(ctx, ticket, outcome)
    else:
        recorded = ctx.outcomes.finalize(outcome, thread_messages(ticket, outcome))
    if recorded:
        pipe = ctx.redis.pipeline(transaction=False)
        ctx.demand.record_first_response(
            pipe,
            now_ms / 1000,
            waited_ms,
            ctx.tenants.profile(ticket.tenant_id).live_max_wait_s or ctx.settings.live_max_wait_s,
            handoff=True,
        )
        pipe.execute()
        args = (ctx.redis, ctx.keys, ticket.tenant_id, ticket.source, ticket.ticket_id)
        hooks.on_escalated(*args, now_ms, HANDOFF_REASON)
    log.info(
        "handed off: %s",
        HANDOFF_REASON,
        extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id},
    )
