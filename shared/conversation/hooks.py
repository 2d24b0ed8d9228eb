"""What the conversation flow tells the resolution state (resolutions.py), one call per event.

The worker calls `on_agent_answered` / `on_escalated` once an event's final outcome is
recorded; the conversation intake calls `on_customer_message`, `on_human_reply` and `on_solved`
for the vendor's events. Each is one Redis round trip and never fails the ticket: the outcome
is already recorded, so a Redis error here is logged and the resolution count misses it.

Replays of history are not conversations (no customer reads their answers): they are ignored.
"""

from __future__ import annotations

import logging

import redis

from shared.conversation.classify import Verdict, classify
from shared.conversation.resolutions import Resolutions
from shared.models import Lane, Ticket

log = logging.getLogger("paceline.conversation")


def _record(
    res: Resolutions, event: str, ticket: Ticket, lane: Lane, *, by_human: bool = False
) -> str | None:
    if lane is Lane.REPLAY:
        return None
    try:
        return res.record(event, ticket.tenant_id, ticket.key, by_human=by_human)
    except redis.RedisError as exc:
        log.warning(
            "resolution not recorded: %s",
            type(exc).__name__,
            extra={"ticket_id": ticket.ticket_id, "tenant_id": ticket.tenant_id},
        )
        return None


def on_agent_answered(res: Resolutions, ticket: Ticket, lane: Lane = Lane.LIVE) -> str | None:
    """The agent's answer went out: the resolution window (re)starts."""
    return _record(res, "answered", ticket, lane)


def on_escalated(res: Resolutions, ticket: Ticket, lane: Lane = Lane.LIVE) -> str | None:
    """Handed to a person (the agent's escalation or admission's hand-off): unresolved."""
    return _record(res, "escalated", ticket, lane)


def on_customer_message(
    res: Resolutions, ticket: Ticket, text: str, lane: Lane = Lane.LIVE
) -> tuple[Verdict, str | None]:
    """A customer wrote on the ticket: confirmed resolves it, unsatisfied or asking for a
    person unresolves it, anything else stops the window until the next answer."""
    verdict = classify(text)
    return verdict, _record(res, verdict.value, ticket, lane)


def on_human_reply(res: Resolutions, ticket: Ticket, lane: Lane = Lane.LIVE) -> str | None:
    """A person replied on the ticket: it is theirs, not a resolution of the agent's."""
    return _record(res, "human", ticket, lane)


def on_solved(
    res: Resolutions, ticket: Ticket, by_human: bool, lane: Lane = Lane.LIVE
) -> str | None:
    """The vendor marked the ticket solved: resolved, unless a person replied or solved it."""
    return _record(res, "solved", ticket, lane, by_human=by_human)
