"""The shape of a ticket message on the queue, shared by producers and workers.

`handle_ticket(ticket: dict, lane: str)`; the ticket is `Ticket.to_message()`. Producers build
messages with `ticket_message` and never import the actor, so a webhook process does not need
the agent's dependencies.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from shared.models import Lane, Ticket

HANDLE_TICKET = "handle_ticket"
# Message options that travel with a ticket through retries, parking, dead letters and
# redrives: whether it may post a reply (a replay may not, unless asked), and the earlier
# deaths of its event (a dead letter's history).
POST_REPLIES = "post_replies"
DLQ_HISTORY = "dlq_history"
STICKY_OPTIONS = (POST_REPLIES, DLQ_HISTORY)


def may_post_reply(lane: Lane, options: dict[str, Any]) -> bool:
    """Replays never post back to the original callback or vendor unless the replay asked
    (`paceline replay --post-replies`); every other lane does, unless its message says not."""
    return bool(options.get(POST_REPLIES, lane is not Lane.REPLAY))


def actor_for(lane: Lane) -> str:
    """One actor name per lane, so a worker's in-process queue serves live work first
    (dramatiq orders prefetched messages by actor priority)."""
    return HANDLE_TICKET if lane is Lane.LIVE else f"{HANDLE_TICKET}_{lane.value}"


def is_ticket_actor(actor_name: str) -> bool:
    return actor_name == HANDLE_TICKET or actor_name.startswith(HANDLE_TICKET + "_")


def queue_for(lane: Lane, namespace: str | None = None) -> str:
    """Queue name of a lane. With RabbitMQ, queues are global, so the namespace is added."""
    base = lane.queue_name
    return f"{namespace}.{base}" if namespace else base


def ticket_message(
    ticket: Ticket,
    lane: Lane,
    *,
    queue_name: str | None = None,
    at_ms: int | None = None,
    **options: Any,
) -> dramatiq.Message[Any]:
    """The message for `ticket`; `at_ms` (the injected clock's now) stamps when it was
    accepted, which the live lane's SLO counts from (dramatiq's default is the wall clock)."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue_name or lane.queue_name,
        actor_name=actor_for(lane),
        args=(ticket.to_message(),),
        kwargs={"lane": lane.value},
        options=dict(options),
    )
    return message if at_ms is None else message.copy(message_timestamp=at_ms)
