"""Conversations: each live ticket's bounded thread and its state, beside its outcome.

The ticket hash (`Keys.ticket`) holds the outcome of the ticket's latest event and, in the same
hash, the conversation's state: who owns it (`owner`: a person once it was escalated or a
human replied), the vendor's phase (`solved`/`closed`), how many automatic answers it got and
what the model spent on it over its lifetime. The thread (`Keys.thread`) is a list of short
JSON entries, the last `PACELINE_THREAD_MAX_MESSAGES` kept; `cut` counts what was dropped.

Entries: a message (`k: msg`: event id, event type, author role and id, its text, when) for
every event recorded, and an outcome (`k: out`: event id, status, reason, the reply, its cost)
for every event that got one; an operator's release is `k: rel`. Intake writes messages
(shared/stores/converse.lua), the worker writes outcomes (outcomes.lua, with the final
status), both in the script that changes the state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from shared.keys import Keys
from shared.models import AuthorRole, EventType, Outcome, Ticket

# A message is kept in the thread up to this many characters (the event's full text travels
# on its own message; the thread is context for later answers).
ENTRY_TEXT_MAX_CHARS = 2_000
# Conversation kinds (converse.lua's `kind`).
CUSTOMER, HUMAN, BOT, SOLVED, CLOSED = "customer", "human", "bot", "solved", "closed"
# Why a person owns a ticket.
HUMAN_REPLIED = "human_replied"
ESCALATED = "escalated"


def kind_of(ticket: Ticket) -> str:
    """How an event changes its conversation (paceline's own events never get here)."""
    if ticket.event_type is EventType.TICKET_SOLVED:
        return SOLVED
    if ticket.event_type is EventType.TICKET_CLOSED:
        return CLOSED
    role = ticket.author_role
    if role is AuthorRole.AGENT:
        return HUMAN
    if role is AuthorRole.BOT:
        return BOT
    return CUSTOMER


def clip(text: str) -> str:
    if len(text) <= ENTRY_TEXT_MAX_CHARS:
        return text
    return text[:ENTRY_TEXT_MAX_CHARS] + f" [{len(text) - ENTRY_TEXT_MAX_CHARS} chars cut]"


def message_entry(ticket: Ticket, at_ms: int) -> str:
    text = ticket.body
    if ticket.event_type is EventType.TICKET_CREATED and ticket.subject:
        text = f"{ticket.subject}\n\n{ticket.body}" if ticket.body else ticket.subject
    doc = {
        "k": "msg",
        "e": ticket.event_id,
        "t": ticket.event_type.value,
        "r": ticket.author_role.value,
        "a": ticket.author_id,
        "x": clip(text),
        "at": at_ms,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def outcome_entry(outcome: Outcome, reason: str | None = None) -> str:
    doc: dict[str, Any] = {
        "k": "out",
        "e": outcome.event_id,
        "s": outcome.status.value,
        "why": reason if reason is not None else outcome.reason,
        "at": outcome.updated_at_ms,
    }
    if outcome.reply:
        doc["x"] = clip(outcome.reply)
    if outcome.cost_micros:
        doc["c"] = outcome.cost_micros
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Conversation:
    """A ticket's conversation as stored: its state and the entries kept."""

    owner: str = ""
    owner_reason: str = ""
    phase: str = ""
    replies: int = 0
    life_micros: int = 0
    cut: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def human_owned(self) -> bool:
        return self.owner == "human"

    def answered(self, event_id: str) -> dict[str, Any] | None:
        """The outcome entry of `event_id`, when that event already has one."""
        for entry in self.entries:
            if entry.get("k") == "out" and entry.get("e") == event_id:
                return entry
        return None

    def before(self, event_id: str) -> list[dict[str, Any]]:
        """The entries written before `event_id`'s message: what the agent reads as context."""
        for i, entry in enumerate(self.entries):
            if entry.get("k") == "msg" and entry.get("e") == event_id:
                return self.entries[:i]
        return list(self.entries)

    def texts(self) -> list[str]:
        """Every text the thread holds: personal data, masked in logs while it is handled."""
        return [str(e["x"]) for e in self.entries if e.get("x")]

    def public(self) -> dict[str, Any]:
        return {
            "owner": self.owner or None,
            "owner_reason": self.owner_reason or None,
            "phase": self.phase or None,
            "auto_replies": self.replies,
            "lifetime_cost_usd": round(self.life_micros / 1_000_000, 6),
            "cut": self.cut,
            "thread": [readable(e) for e in self.entries],
        }


_STATE_FIELDS = ("owner", "owner_reason", "phase", "replies", "life_micros", "cut")


def readable(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry with its long field names, for `outcomes show --thread --json`."""
    out = {_LONG_NAMES.get(k, k): v for k, v in entry.items()}
    out["kind"] = _KINDS.get(str(out.get("kind")), out.get("kind"))
    return out


_LONG_NAMES = {
    "k": "kind",
    "e": "event_id",
    "t": "event_type",
    "r": "role",
    "a": "author",
    "x": "text",
    "at": "at_ms",
    "s": "status",
    "why": "reason",
    "c": "cost_micros",
}
_KINDS = {"msg": "message", "out": "outcome", "rel": "release"}


class ThreadStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def queue_load(self, pipe: Any, ticket_key: str) -> None:
        """Queue the two reads `parse_load` reads (one round trip with the caller's others)."""
        pipe.hmget(self._keys.ticket(ticket_key), list(_STATE_FIELDS))
        pipe.lrange(self._keys.thread(ticket_key), 0, -1)

    @staticmethod
    def parse_load(state: list[Any], raw: list[Any]) -> Conversation:
        owner, reason, phase, replies, life, cut = (_text(v) for v in state)
        entries: list[dict[str, Any]] = []
        for item in raw:
            try:
                doc = json.loads(item)
            except ValueError:
                continue
            if isinstance(doc, dict):
                entries.append(doc)
        return Conversation(
            owner=owner,
            owner_reason=reason,
            phase=phase,
            replies=int(replies or 0),
            life_micros=int(life or 0),
            cut=int(cut or 0),
            entries=entries,
        )

    def load(self, ticket_key: str) -> Conversation:
        pipe = self._r.pipeline(transaction=False)
        self.queue_load(pipe, ticket_key)
        state, raw = pipe.execute()
        return self.parse_load(cast(list[Any], state), cast(list[Any], raw))

    def release(self, ticket_key: str, at_ms: int, max_messages: int) -> bool:
        """Hand a ticket a person owned back to the agent; False when no such ticket is
        stored. The release is an entry in the thread."""
        ticket = self._keys.ticket(ticket_key)
        ttl_s = int(self._r.ttl(ticket))
        if ttl_s == -2:  # no such ticket
            return False
        entry = json.dumps({"k": "rel", "at": at_ms}, separators=(",", ":"))
        thread = self._keys.thread(ticket_key)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(ticket, mapping={"owner": "", "owner_reason": "", "replies": 0})
        pipe.rpush(thread, entry)
        pipe.ltrim(thread, -max_messages, -1)
        if ttl_s > 0:
            pipe.expire(thread, ttl_s)  # the thread lives as long as its ticket
        pipe.execute()
        return True


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
