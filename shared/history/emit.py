"""Writing facts into the history stream (`shared/history/events.py` says the format).

For the code that changes state: it adds the entry in the same script or MULTI as the change,
so no record exists without its event. Imports nothing of the database side, so a worker
never needs it. The stream has no MAXLEN: trimming by length would drop entries not yet
archived. The archiver deletes what it has committed, and a backlog alert watches the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from shared.keys import Keys
from shared.models import Outcome, Ticket

Fields = dict[str, str]


def call_fields(
    *,
    reservation_id: str,
    call_id: str,
    ticket_id: str,
    tenant_id: str,
    requester: str,
    model: str,
    lane: str,
    prompt_tokens: int,
    cached_tokens: int,
    completion_tokens: int,
    cost_micros: int,
    day: str,
    at_ms: int,
    expired_charge: bool = False,
) -> Fields:
    return {
        "k": "call",
        "rid": reservation_id,
        "call": call_id,
        "ticket": ticket_id,
        "tenant": tenant_id,
        "requester": requester,
        "model": model,
        "lane": lane,
        "pt": str(prompt_tokens),
        "ct": str(cached_tokens),
        "ot": str(completion_tokens),
        "cost": str(cost_micros),
        "day": day,
        "at": str(at_ms),
        "x": "1" if expired_charge else "0",
    }


def outcome_fields(outcome_json: str, messages: Iterable[Mapping[str, Any]] = ()) -> Fields:
    """A final outcome (its JSON, as the outcome store writes it) and its thread's messages."""
    fields = {"k": "outcome", "doc": outcome_json}
    listed = list(messages)
    if listed:
        fields["msgs"] = json.dumps(listed)
    return fields


def thread_messages(ticket: Ticket, outcome: Outcome) -> list[dict[str, Any]]:
    """The conversation one ticket event makes today: the customer's message and, when there
    is one, the reply (stored under the transcript policy; conversations bring more)."""
    created_ms = int(ticket.created_at.timestamp() * 1000) if ticket.created_at else None
    text = f"{ticket.subject}\n\n{ticket.body}" if ticket.subject else ticket.body
    messages: list[dict[str, Any]] = [
        {"id": f"{ticket.event_id}:customer", "role": "customer", "author": ticket.requester.id,
         "body": text, "at": created_ms or outcome.enqueued_at_ms or outcome.updated_at_ms}
    ]  # fmt: skip
    if outcome.reply:
        messages.append(
            {"id": f"{ticket.event_id}:reply", "role": "agent", "author": "paceline",
             "body": outcome.reply, "at": outcome.updated_at_ms}
        )  # fmt: skip
    return messages


def cap_fields(
    *, scope: str, old_micros: int | None, new_micros: int | None, who: str, note: str, at_ms: int
) -> Fields:
    return {
        "k": "cap",
        "scope": scope,
        "old": "" if old_micros is None else str(old_micros),
        "new": "" if new_micros is None else str(new_micros),
        "who": who,
        "note": note,
        "at": str(at_ms),
    }


def dead_letter_fields(entry_json: str) -> Fields:
    return {"k": "dlq", "doc": entry_json}


def dead_letter_gone_fields(*, entry_id: str, how: str, at_ms: int) -> Fields:
    return {"k": "dlq_gone", "entry": entry_id, "how": how, "at": str(at_ms)}


def append(pipe: Any, keys: Keys, fields: Fields) -> None:
    """Queue the XADD on `pipe` (a MULTI pipeline that also holds the state change)."""
    pipe.xadd(keys.history_stream, fields)
