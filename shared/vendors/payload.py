"""Payload helpers: JSON loading, ticket building with short reasons, text clean-up."""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import Any

from pydantic import ValidationError

from shared.errors import NotATicket
from shared.models import Ticket

_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"[ \t]+")


def load_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise NotATicket("body is not JSON") from None
    if not isinstance(doc, dict):
        raise NotATicket("body is not a JSON object")
    return doc


def build_ticket(fields: dict[str, Any]) -> Ticket:
    """Validate; the reason names the field and the rule, never the value that failed."""
    try:
        return Ticket.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "ticket"
        raise NotATicket(f"{where}: {err['msg']}"[:160]) from None


def content_hash(signed: bytes) -> str:
    """The dedupe id for vendors that sign no delivery id: a digest of exactly what was
    signed, so the same signed bytes are the same event whatever unsigned headers say."""
    return "h-" + hashlib.sha256(signed).hexdigest()[:32]


def short_digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:16]


def obj(doc: Any, *path: str) -> dict[str, Any]:
    """Walk nested objects; anything missing or of the wrong type is an empty object."""
    cur = doc
    for key in path:
        cur = cur.get(key) if isinstance(cur, dict) else None
    return cur if isinstance(cur, dict) else {}


def text(value: Any) -> str:
    """A scalar as text ("" for missing or nested values)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return ""


def strip_html(value: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()


def vendor_id(prefix: str, raw: Any, id_format: re.Pattern[str]) -> str:
    """Our ticket id for the vendor's `raw` id, refused unless it has the vendor's format."""
    value = text(raw)
    if not value:
        raise NotATicket("no ticket id")
    if not id_format.fullmatch(value):
        raise NotATicket("ticket id: not in this vendor's id format")
    return f"{prefix}-{value}"


def string_list(value: Any, key: str = "name") -> list[str]:
    """Tags arrive as strings, as objects with a name, or as one comma/space separated string."""
    if isinstance(value, str):
        return [t for t in re.split(r"[,\s]+", value) if t][:100]
    if not isinstance(value, list):
        return []
    out = [text(v.get(key)) if isinstance(v, dict) else text(v) for v in value]
    return [t for t in out if t][:100]


_PRIORITY = {
    "low": "low",
    "lowest": "low",
    "1": "low",
    "normal": "normal",
    "medium": "normal",
    "not_priority": "normal",
    "2": "normal",
    "high": "high",
    "highest": "urgent",
    "priority": "high",
    "3": "high",
    "urgent": "urgent",
    "4": "urgent",
}


def priority_of(value: Any) -> str:
    """Each vendor's priority words (and Freshdesk's 1-4) on our four levels."""
    return _PRIORITY.get(text(value).strip().lower(), "normal")


# Conversation events (docs/conversations.md): each adapter names what a delivery is.
CREATED, MESSAGE, SOLVED, CLOSED = (
    "ticket.created",
    "message.created",
    "ticket.solved",
    "ticket.closed",
)
CUSTOMER, AGENT, BOT = "customer", "agent", "bot"


def event_fields(event_type: str, role: str = CUSTOMER, author_id: str = "") -> dict[str, Any]:
    """The `event_type` and `author` fields of a normalised ticket."""
    return {"event_type": event_type, "author": {"role": role, "id": author_id}}


def ignored(kind: str) -> dict[str, Any]:
    """The answer to a delivery that is no conversation event (acknowledged, not enqueued)."""
    return {"ok": True, "ignored": kind[:80]}
