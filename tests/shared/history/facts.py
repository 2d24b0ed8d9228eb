"""Facts as the code that changes state writes them into the history stream."""

from __future__ import annotations

from typing import Any

import redis

from shared.history import emit
from shared.keys import Keys
from shared.models import Lane, Outcome, OutcomeStatus

T0_MS = 1_794_312_000_000  # 2026-11-10 12:00 UTC
DAY_MS = 24 * 3600 * 1000


def call(n: int, **over: Any) -> dict[str, str]:
    fields: dict[str, Any] = {
        "reservation_id": f"res{n // 3}",
        "call_id": f"c{n % 3}",
        "ticket_id": f"T-{n // 3}",
        "tenant_id": "acme",
        "requester": "u-1",
        "model": "gpt-4o-mini",
        "lane": "live",
        "prompt_tokens": 1_000 + n,
        "cached_tokens": 100,
        "completion_tokens": 200,
        "cost_micros": 1_000 + n,
        "day": "2026-11-10",
        "at_ms": T0_MS + n,
    }
    fields.update(over)
    return emit.call_fields(**fields)


def outcome(ticket: str, **over: Any) -> Outcome:
    fields: dict[str, Any] = {
        "ticket_id": ticket,
        "event_id": f"evt-{ticket}",
        "tenant_id": "acme",
        "requester_id": "u-1",
        "lane": Lane.LIVE,
        "status": OutcomeStatus.ANSWERED,
        "reply": "Write to ann@example.com or call +1 (555) 123-4567.",
        "model": "gpt-4o-mini",
        "llm_calls": 2,
        "prompt_tokens": 2_000,
        "completion_tokens": 300,
        "cost_micros": 2_500,
        "attempts": 1,
        "updated_at_ms": T0_MS,
    }
    fields.update(over)
    return Outcome(**fields)


def outcome_fields(o: Outcome, body: str = "I am ann@example.com, 555-123-4567.") -> dict[str, str]:
    messages = [
        {"id": f"{o.event_id}:customer", "role": "customer", "author": o.requester_id,
         "body": body, "at": o.updated_at_ms - 1_000},
        {"id": f"{o.event_id}:reply", "role": "agent", "author": "paceline",
         "body": o.reply, "at": o.updated_at_ms},
    ]  # fmt: skip
    return emit.outcome_fields(o.model_dump_json(), messages)


def dead_letter_doc(entry_id: str, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "entry_id": entry_id,
        "ticket_id": "T-9",
        "event_id": "evt-9",
        "tenant_id": "acme",
        "lane": "live",
        "reason": "invalid_ticket",
        "error": "bad ticket from bob@example.com",
        "attempts": 1,
        "cost_micros": 0,
        "failed_at_ms": T0_MS,
        "ticket": {"ticket_id": "T-9", "requester": {"id": "u-1", "email": "bob@example.com"},
                   "body": "secret text"},
    }  # fmt: skip
    doc.update(over)
    return doc


def add(client: redis.Redis, keys: Keys, *entries: dict[str, str]) -> list[str]:
    pipe = client.pipeline(transaction=True)
    for fields in entries:
        pipe.xadd(keys.history_stream, fields)  # type: ignore[arg-type]
    return [str(i) for i in pipe.execute()]
