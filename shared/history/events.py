"""The history stream's entries: how a fact is written into `<ns>:history:events` and parsed
back into the row it becomes.

Every entry has `k` (its kind) and flat string fields, so Lua can XADD one beside the state
change it records (settle.lua adds a `call` entry in the same script that moves the books):

| k          | fields                                                                        |
|------------|-------------------------------------------------------------------------------|
| `call`     | rid, call, ticket, tenant, requester, model, lane, pt, ct, ot (prompt, cached,|
|            | completion tokens), cost (micros), day (budget day), at (ms), x ("1": a lease |
|            | expiry charged the call's worst case; its late settle comes as x="0")        |
| `outcome`  | doc (the final `Outcome` as JSON), msgs (optional JSON list of messages:      |
|            | {"id", "role", "author", "body", "at"})                                       |
| `cap`      | scope, old, new (micros; "" for none), who, note, at (ms)                     |
| `dlq`      | doc (the `DeadLetter` as JSON; its ticket is never stored)                    |
| `dlq_gone` | entry, how (requeued, purged, swept, forgotten), at (ms)                      |
| `resolution` | key (the ticket key: tenant, source, ticket), tenant, how (confirmed,       |
|            | solved, window), msgs (messages to it), at (ms); resolution_common.lua       |

`parse` raises `EventRejected` with a reason for anything that would not fit its table (a
missing field, a bad number, text too long), so one bad entry is set aside, never retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.errors import EventRejected
from shared.keys import unscoped

KINDS = ("call", "outcome", "cap", "dlq", "dlq_gone", "resolution")
RESOLVED_HOW = ("confirmed", "solved", "window")
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
# Column widths (shared/history/schema.py); longer text is refused, not cut, except error text.
ID_CHARS, TENANT_CHARS, LANE_CHARS, MODEL_CHARS, SCOPE_CHARS = 200, 100, 16, 100, 300
ERROR_CHARS = 2_000


@dataclass(frozen=True)
class Event:
    """A parsed entry: its kind and the row (or rows) it becomes, keyed by column."""

    kind: str
    row: dict[str, Any]
    messages: tuple[dict[str, Any], ...] = ()


def _text(fields: Mapping[str, Any], name: str, limit: int, *, empty: bool = False) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or (not value and not empty):
        raise EventRejected(f"missing field {name!r}")
    if len(value) > limit:
        raise EventRejected(f"field {name!r} longer than {limit} characters")
    if "\x00" in value:
        raise EventRejected(f"field {name!r} holds a NUL character")
    return value


def _int(value: Any, name: str, top: int = BIGINT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EventRejected(f"field {name!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise EventRejected(f"field {name!r} is not an integer") from None
    if not 0 <= number <= top:
        raise EventRejected(f"field {name!r} out of range")
    return number


def _optional_int(value: str | None, name: str) -> int | None:
    return None if value in (None, "") else _int(value, name)


def _json(fields: dict[str, str], name: str) -> Any:
    try:
        return json.loads(_text(fields, name, 10_000_000))
    except json.JSONDecodeError:
        raise EventRejected(f"field {name!r} is not JSON") from None


def _clean(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "")
    return text[:limit] if limit else text


def parse_call(f: dict[str, str]) -> Event:
    try:
        day = date.fromisoformat(_text(f, "day", 10))
    except ValueError:
        raise EventRejected("field 'day' is not a date (YYYY-MM-DD)") from None
    row = {
        "reservation_id": _text(f, "rid", 64),
        "call_id": _text(f, "call", 128),
        "ticket_id": _text(f, "ticket", ID_CHARS),
        "tenant_id": _text(f, "tenant", TENANT_CHARS),
        "requester": _text(f, "requester", ID_CHARS),
        "model": _text(f, "model", MODEL_CHARS),
        "lane": _text(f, "lane", LANE_CHARS),
        "prompt_tokens": _int(f.get("pt", "0"), "pt", INT_MAX),
        "cached_tokens": _int(f.get("ct", "0"), "ct", INT_MAX),
        "completion_tokens": _int(f.get("ot", "0"), "ot", INT_MAX),
        "cost_micros": _int(f.get("cost"), "cost"),
        "expired_charge": f.get("x", "0") == "1",
        "day": day,
        "settled_at_ms": _int(f.get("at"), "at"),
    }
    return Event("call", row)


def parse_outcome(f: dict[str, str]) -> Event:
    doc = _json(f, "doc")
    if not isinstance(doc, dict):
        raise EventRejected("field 'doc' is not an object")

    def text(name: str, limit: int, *, empty: bool = False) -> str:
        value = doc.get(name, "" if empty else None)
        if not isinstance(value, str) or (not value and not empty) or len(value) > limit:
            raise EventRejected(f"outcome field {name!r} missing or too long")
        return value.replace("\x00", "")

    status = text("status", 32)
    row = {
        "ticket_id": text("ticket_id", ID_CHARS),
        # A poison message's outcome may know no tenant, requester or event.
        "event_id": text("event_id", ID_CHARS, empty=True),
        "tenant_id": text("tenant_id", TENANT_CHARS, empty=True),
        "requester": text("requester_id", ID_CHARS, empty=True),
        "lane": text("lane", LANE_CHARS),
        "status": status,
        "reason": _clean(doc.get("reason"), 200),
        "model": _clean(doc.get("model"), MODEL_CHARS),
        "llm_calls": _int(doc.get("llm_calls", 0), "llm_calls", INT_MAX),
        "prompt_tokens": _int(doc.get("prompt_tokens", 0), "prompt_tokens", INT_MAX),
        "cached_tokens": _int(doc.get("cached_tokens", 0), "cached_tokens", INT_MAX),
        "completion_tokens": _int(doc.get("completion_tokens", 0), "completion_tokens", INT_MAX),
        "cost_micros": _int(doc.get("cost_micros", 0), "cost_micros"),
        "attempts": _int(doc.get("attempts", 0), "attempts", INT_MAX),
        "latency_ms": _optional_int(doc.get("latency_ms"), "latency_ms"),
        "reply": _clean(doc.get("reply")),
        "finalized_at_ms": _int(doc.get("updated_at_ms"), "updated_at_ms"),
    }
    messages = _messages(f, row) if "msgs" in f else ()
    return Event("outcome", row, messages)


def _messages(f: dict[str, str], outcome: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    raw = _json(f, "msgs")
    if not isinstance(raw, list):
        raise EventRejected("field 'msgs' is not a list")
    out = []
    for m in raw:
        if not isinstance(m, dict) or m.get("role") not in ("customer", "agent", "bot"):
            raise EventRejected("a message needs a role: customer, agent or bot")
        message_id = _clean(m.get("id"), None) or ""
        if not message_id or len(message_id) > ID_CHARS:
            raise EventRejected("a message needs an id of at most 200 characters")
        out.append(
            {
                "tenant_id": outcome["tenant_id"],
                "ticket_id": outcome["ticket_id"],
                "message_id": message_id,
                "event_id": outcome["event_id"],
                "role": m["role"],
                "author": (_clean(m.get("author"), ID_CHARS) or outcome["requester"]),
                "body": _clean(m.get("body")),
                "created_at_ms": _int(m.get("at", outcome["finalized_at_ms"]), "at"),
            }
        )
    return tuple(out)


def parse_cap(f: dict[str, str]) -> Event:
    row = {
        "scope": _text(f, "scope", SCOPE_CHARS),
        "old_micros": _optional_int(f.get("old"), "old"),
        "new_micros": _optional_int(f.get("new"), "new"),
        "who": _text(f, "who", ID_CHARS),
        "note": _clean(f.get("note", ""), 2_000) or "",
        "changed_at_ms": _int(f.get("at"), "at"),
    }
    return Event("cap", row)


def parse_dead_letter(f: dict[str, str]) -> Event:
    doc = _json(f, "doc")
    if not isinstance(doc, dict):
        raise EventRejected("field 'doc' is not an object")
    ticket = doc.get("ticket")
    ticket = ticket if isinstance(ticket, dict) else {}
    requester = ticket.get("requester")
    requester = requester if isinstance(requester, dict) else {}
    try:
        row = {
            "entry_id": _text(doc, "entry_id", 64),
            "ticket_id": _text(doc, "ticket_id", ID_CHARS),
            "event_id": _text(doc, "event_id", ID_CHARS, empty=True),
            "tenant_id": _text(doc, "tenant_id", TENANT_CHARS, empty=True),
            "requester": _clean(requester.get("id"), ID_CHARS) or "",
            "lane": _text(doc, "lane", LANE_CHARS),
            "reason": _text(doc, "reason", 200),
            "error": _clean(doc.get("error", ""), ERROR_CHARS) or "",
            "attempts": _int(doc.get("attempts", 0), "attempts", INT_MAX),
            "cost_micros": _int(doc.get("cost_micros", 0), "cost_micros"),
            "failed_at_ms": _int(doc.get("failed_at_ms"), "failed_at_ms"),
        }
    except TypeError:
        raise EventRejected("a dead letter field has the wrong type") from None
    return Event("dlq", row)


def parse_dead_letter_gone(f: dict[str, str]) -> Event:
    row = {
        "entry_id": _text(f, "entry", 64),
        "removed_how": _text(f, "how", 32),
        "removed_at_ms": _int(f.get("at"), "at"),
    }
    return Event("dlq_gone", row)


def parse_resolution(f: dict[str, str]) -> Event:
    parts = unscoped(_text(f, "key", 3 * ID_CHARS))
    if parts is None or len(parts) != 3 or not all(parts):
        raise EventRejected("field 'key' is not a ticket key (tenant, source, ticket)")
    tenant, source, ticket = parts
    if tenant != _text(f, "tenant", TENANT_CHARS) or len(tenant) > TENANT_CHARS:
        raise EventRejected("field 'tenant' does not match the ticket key")
    if len(source) > 32 or len(ticket) > ID_CHARS:
        raise EventRejected("the ticket key's source or ticket id is too long")
    how = _text(f, "how", 16)
    if how not in RESOLVED_HOW:
        raise EventRejected(f"field 'how' is not one of {', '.join(RESOLVED_HOW)}")
    row = {
        "tenant_id": tenant,
        "source": source,
        "ticket_id": ticket,
        "how": how,
        "messages": _int(f.get("msgs"), "msgs", INT_MAX),
        "resolved_at_ms": _int(f.get("at"), "at"),
    }
    return Event("resolution", row)


_PARSERS = {
    "call": parse_call,
    "outcome": parse_outcome,
    "cap": parse_cap,
    "dlq": parse_dead_letter,
    "dlq_gone": parse_dead_letter_gone,
    "resolution": parse_resolution,
}


def parse(fields: dict[str, str]) -> Event:
    """The row an entry becomes; `EventRejected` (its reason) when it does not parse."""
    parser = _PARSERS.get(fields.get("k", ""))
    if parser is None:
        raise EventRejected(f"unknown kind {fields.get('k')!r}")
    return parser(fields)
