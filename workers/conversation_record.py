"""Recording a live event's final outcome as a turn of its ticket's conversation.

One script (shared/stores/outcomes.lua) writes the outcome, appends the event's outcome entry
to the ticket's thread, adds its spend to the ticket's lifetime spend, counts an automatic
answer, and, for an escalation, hands the ticket to a person (it stays theirs: later customer
messages are `human_owned`). Then the resolution hooks hear of it.
"""

from __future__ import annotations

from shared.conversation import hooks
from shared.history.emit import thread_messages
from shared.models import Outcome, OutcomeStatus, Ticket
from shared.stores.threads import outcome_entry
from workers.worker_context import WorkerContext


def finalize(ctx: WorkerContext, ticket: Ticket, outcome: Outcome) -> bool:
    """Record an event's final outcome, its thread entry and the ticket's conversation state
    in one script, then tell the hooks."""
    recorded = record(ctx, ticket, outcome)
    if recorded:
        args = (ctx.redis, ctx.keys, ticket.tenant_id, ticket.source, ticket.ticket_id)
        if outcome.status is OutcomeStatus.ANSWERED:
            hooks.on_agent_answered(*args, outcome.updated_at_ms, outcome.cost_micros)
        elif outcome.status is OutcomeStatus.ESCALATED:
            hooks.on_escalated(*args, outcome.updated_at_ms, outcome.reason or "escalated")
    return recorded


def record(ctx: WorkerContext, ticket: Ticket, outcome: Outcome) -> bool:
    """`finalize` without the hooks: the worker's own path sends the resolution event with
    the ticket's close, one round trip fewer (workers/handle.py)."""
    escalated = outcome.status is OutcomeStatus.ESCALATED
    answered = outcome.status is OutcomeStatus.ANSWERED
    return ctx.outcomes.finalize(
        outcome,
        thread_messages(ticket, outcome),
        thread_entry=outcome_entry(outcome),
        thread_max=ctx.settings.thread_max_messages,
        owner_reason=_owner_reason(outcome) if escalated else "",
        auto_reply=answered,
    )


def _owner_reason(outcome: Outcome) -> str:
    reason = outcome.reason or "escalated"
    # The model's own words stay on the outcome; the owner reason is a short code.
    return "escalated" if ":" in reason else reason
