"""The ticket and outcome models every process shares.

A `Ticket` is what a producer normalises a vendor's payload into; it travels on the queue as
JSON. An `Outcome` is the one visible state an accepted ticket ends in (invariant 2).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.keys import event_key, ticket_key

MAX_SUBJECT_CHARS = 1_000
MAX_BODY_CHARS = 200_000
MAX_TAG_CHARS = 200
# A constrained string is checked to be valid Unicode (a lone surrogate is refused); a bare
# `str` is not, and such a value would later fail to serialise (a dead letter, an outcome).
Tag = Annotated[str, Field(max_length=MAX_TAG_CHARS)]


class Lane(StrEnum):
    """Queues by priority: live tickets are never behind history (invariant 4)."""

    LIVE = "live"
    REDRIVE = "redrive"
    REPLAY = "replay"

    @property
    def queue_name(self) -> str:
        return f"tickets_{self.value}"

    @property
    def priority(self) -> int:
        return {"live": 0, "redrive": 1, "replay": 2}[self.value]


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


def printable_id(value: str) -> str:
    """An id must be printable: a control character, a bidi override or another invisible
    format character in an id would reach every terminal and log line that shows it."""
    for ch in value:
        if unicodedata.category(ch) in _UNPRINTABLE:
            raise ValueError(f"must not contain control or format characters (U+{ord(ch):04X})")
    return value


# Control, format (bidi overrides, zero-width), surrogate, private use, line/paragraph breaks.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


class EventType(StrEnum):
    """What happened on the ticket (docs/conversations.md maps each vendor's events here)."""

    TICKET_CREATED = "ticket.created"
    MESSAGE_CREATED = "message.created"
    TICKET_SOLVED = "ticket.solved"
    TICKET_CLOSED = "ticket.closed"


class AuthorRole(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"  # a person on the support team
    BOT = "bot"  # an automation: paceline's own (dropped) or another's (recorded)


class Author(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    role: AuthorRole = AuthorRole.CUSTOMER
    id: str = Field(default="", max_length=200)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        return printable_id(value)


class Requester(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, value: str) -> str:
        return printable_id(value)


class Ticket(BaseModel):
    """A support ticket event, normalised from any source."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(min_length=1, max_length=200)
    ticket_id: str = Field(min_length=1, max_length=200, pattern=r"^[^\s/]+$")
    tenant_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    requester: Requester
    subject: str = Field(default="", max_length=MAX_SUBJECT_CHARS)
    body: str = Field(default="", max_length=MAX_BODY_CHARS)
    priority: Priority = Priority.NORMAL
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    created_at: datetime | None = None
    callback_url: str | None = Field(default=None, max_length=2_000)
    source: str = Field(default="generic", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    # Thin vendor payloads (an id and little else) are marked so the worker can enrich them.
    needs_enrichment: bool = False
    # Conversations: what this event is and who wrote it; `body` is this event's message
    # text. Defaults keep a one-shot ticket what it always was: created by its customer.
    event_type: EventType = EventType.TICKET_CREATED
    author: Author | None = None
    # The idempotency key (or marker) of one of paceline's own replies, when the sender
    # echoes it back: such an event is paceline's own and is dropped (no loop).
    marker: str | None = Field(
        default=None, max_length=1_000, validation_alias=AliasChoices("marker", "idempotency_key")
    )

    @model_validator(mode="before")
    @classmethod
    def _requester_for_later_events(cls, data: Any) -> Any:
        """A later event (a reply, a status change) may name no requester: it belongs to the
        ticket's. Only a new ticket must say who asked."""
        if isinstance(data, dict) and data.get("requester") is None:
            if data.get("event_type", EventType.TICKET_CREATED.value) != "ticket.created":
                return {**data, "requester": {"id": "unknown"}}
        return data

    @field_validator("event_id", "ticket_id", "tenant_id")
    @classmethod
    def _printable_ids(cls, value: str) -> str:
        return printable_id(value)

    @field_validator("callback_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("callback_url must be an http(s) URL")
        return value

    @property
    def key(self) -> str:
        """This ticket among every tenant's and source's: its outcome's key."""
        return ticket_key(self.tenant_id, self.source, self.ticket_id)

    @property
    def idempotency_key(self) -> str:
        """Same on every attempt for one ticket event: the callback's `Idempotency-Key`, the
        reply marker, the reservation index and the requeue marker."""
        return event_key(self.tenant_id, self.source, self.ticket_id, self.event_id)

    @property
    def author_role(self) -> AuthorRole:
        return self.author.role if self.author is not None else AuthorRole.CUSTOMER

    @property
    def author_id(self) -> str:
        return self.author.id if self.author is not None and self.author.id else self.requester.id

    def to_message(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class OutcomeStatus(StrEnum):
    PENDING = "pending"
    PARKED = "parked"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    REJECTED = "rejected"
    DEAD_LETTERED = "dead_lettered"
    # A customer message on a ticket a person owns (escalated, or a human replied): recorded
    # in the thread, not answered.
    HUMAN_OWNED = "human_owned"
    # Outside its tenant's rollout (share or tags): left for people, no model call.
    NOT_IN_ROLLOUT = "not_in_rollout"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = {
    OutcomeStatus.ANSWERED,
    OutcomeStatus.ESCALATED,
    OutcomeStatus.REJECTED,
    OutcomeStatus.DEAD_LETTERED,
    OutcomeStatus.HUMAN_OWNED,
    OutcomeStatus.NOT_IN_ROLLOUT,
}


class Outcome(BaseModel):
    """What happened to one ticket; what `paceline outcomes show` prints."""

    model_config = ConfigDict(extra="ignore")

    ticket_id: str
    event_id: str = ""
    tenant_id: str = ""
    # Outcomes written before the source was recorded read as the generic source's.
    source: str = "generic"
    requester_id: str = ""
    lane: Lane = Lane.LIVE
    status: OutcomeStatus
    reason: str | None = None
    reply: str | None = None
    # Who a hand-off went to (workers/admission/handoff.py's `escalation_target`).
    escalation_target: str | None = None
    # How the reply was posted back: to the customer, or as a draft for the team (the
    # tenant's reply mode decides; docs/tenants.md). None: nothing to post.
    visibility: Literal["public", "internal"] | None = None
    model: str | None = None
    llm_calls: int = 0
    steps: int = 0
    tools_used: list[str] = Field(default_factory=list)
    # Help-centre article ids the reply cites.
    articles: list[str] = Field(default_factory=list)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    attempts: int = 0
    latency_ms: int | None = None
    job_id: str | None = None
    reservation_id: str | None = None
    enqueued_at_ms: int | None = None
    updated_at_ms: int = 0

    @classmethod
    def for_ticket(
        cls, ticket: Ticket, lane: Lane, status: OutcomeStatus, **fields: Any
    ) -> Outcome:
        """An outcome carrying the ticket's identity; `fields` fill in the rest."""
        return cls(
            ticket_id=ticket.ticket_id,
            event_id=ticket.event_id,
            tenant_id=ticket.tenant_id,
            source=ticket.source,
            requester_id=ticket.requester.id,
            lane=lane,
            status=status,
            **fields,
        )

    @property
    def key(self) -> str:
        return ticket_key(self.tenant_id, self.source, self.ticket_id)

    @property
    def cost_usd(self) -> float:
        return round(self.cost_micros / 1_000_000, 6)

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["cost_usd"] = self.cost_usd
        return data


def utcnow() -> datetime:
    return datetime.now(UTC)
