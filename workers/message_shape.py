"""Reading a ticket message defensively: any shape that is not `handle_ticket(ticket, lane=…)`
with a valid ticket is poison, and poison is dead-lettered with the reason, never retried
and never lost (a message with no arguments must not die inside dramatiq's call)."""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import ValidationError

from shared.messages import HANDLE_TICKET
from shared.models import Lane, Ticket


class ReadMessage(NamedTuple):  # one per message on the admission hot path: cheap to build
    lane: Lane
    ticket: Ticket | None
    problem: str | None = None


def lane_of_actor(actor_name: str) -> Lane:
    suffix = actor_name.removeprefix(HANDLE_TICKET).lstrip("_")
    try:
        return Lane(suffix) if suffix else Lane.LIVE
    except ValueError:
        return Lane.LIVE


def read_ticket_message(actor_name: str, args: Any, kwargs: Any) -> ReadMessage:
    lane = lane_of_actor(actor_name)
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    raw_lane = kwargs.get("lane", lane.value)
    if raw_lane != lane.value:
        return ReadMessage(lane, None, f"lane {str(raw_lane)[:40]!r} does not match the queue's")
    if not isinstance(args, list | tuple) or len(args) != 1 or set(kwargs) - {"lane"}:
        return ReadMessage(lane, None, "expected handle_ticket(ticket, lane=...)")
    try:
        return ReadMessage(lane, Ticket.model_validate(args[0]))
    except ValidationError as exc:
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return ReadMessage(lane, None, why)


def poison_doc(args: Any) -> dict[str, Any]:
    """What can be kept of a poison message's ticket for the dead letter (bounded)."""
    first = args[0] if isinstance(args, list | tuple) and args else None
    return first if isinstance(first, dict) else {"raw": repr(args)[:2000]}
