"""The history database's tables (SQLAlchemy Core): what reports, the archiver and `forget` use.

The migrations in `migrations/versions/` build exactly this (a test compares them). Money is
integer micro-dollars, times are epoch milliseconds (UTC) and `day` is the ledger's budget day
in `PACELINE_TIMEZONE`, so a day summed here matches the day's books in Redis exactly.

Every row a fact produces has a natural key with a unique constraint: a fact delivered twice
is stored once. Requesters appear as the ticketing system's id until `paceline forget`
replaces it by a keyed hash (`anon:<hex>`), so cost rows outlive the person's data.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
# The month report's columns, carried in the day index so PostgreSQL answers from the index.
COVER = [
    "tenant_id",
    "model",
    "lane",
    "cost_micros",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
]
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per settled model call: what the ledger's `spent:` moved by.
model_calls = Table(
    "model_calls",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("reservation_id", String(64), nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    Column("tenant_id", String(100), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("model", String(100), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    # True while the row holds a lease expiry's worst-case charge (no usage known yet); the
    # call's late settle replaces it with what the provider billed.
    Column("expired_charge", Boolean, nullable=False),
    Column("day", Date, nullable=False),
    Column("settled_at_ms", BigInteger, nullable=False),
    UniqueConstraint("reservation_id", "call_id"),
    Index(
        "ix_model_calls_day_cover",
        "day",
        postgresql_include=COVER,
    ),
    Index("ix_model_calls_tenant_day", "tenant_id", "day"),
    Index("ix_model_calls_tenant_ticket", "tenant_id", "ticket_id"),
    Index("ix_model_calls_tenant_requester", "tenant_id", "requester"),
)

# One row per final outcome written (a requeued dead letter ends a second time: two rows).
ticket_outcomes = Table(
    "ticket_outcomes",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("ticket_id", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("tenant_id", String(100), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("model", String(100), nullable=True),
    Column("llm_calls", Integer, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("latency_ms", BigInteger, nullable=True),
    # The reply as stored under the transcript policy; NULL once retention or forget erased it.
    Column("reply", Text, nullable=True),
    Column("finalized_at_ms", BigInteger, nullable=False),
    UniqueConstraint("ticket_id", "event_id", "finalized_at_ms"),
    Index("ix_ticket_outcomes_tenant_ticket", "tenant_id", "ticket_id"),
    Index("ix_ticket_outcomes_finalized_at_ms", "finalized_at_ms"),
    Index("ix_ticket_outcomes_tenant_requester", "tenant_id", "requester"),
)

# A ticket's conversation, one row a message. Today a ticket event brings the customer's
# message and the agent's reply; threads of many messages arrive with conversations.
thread_messages = Table(
    "thread_messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # customer | agent | bot
    Column("author", String(200), nullable=False),
    Column("body", Text, nullable=True),  # NULL once retention or forget erased it
    Column("created_at_ms", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "ticket_id", "message_id"),
    Index("ix_thread_messages_created_at_ms", "created_at_ms"),
    Index("ix_thread_messages_tenant_author", "tenant_id", "author"),
)

# The cap audit (`paceline budget set`), kept for good.
cap_changes = Table(
    "cap_changes",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("scope", String(300), nullable=False),
    Column("old_micros", BigInteger, nullable=True),
    Column("new_micros", BigInteger, nullable=True),  # NULL: the override was removed
    Column("who", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("changed_at_ms", BigInteger, nullable=False),
    UniqueConstraint("scope", "changed_at_ms", "who"),
    Index("ix_cap_changes_changed_at_ms", "changed_at_ms"),
)

# Every dead letter, and how it left the registry (requeued, purged, swept).
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("entry_id", String(64), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("tenant_id", String(100), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("failed_at_ms", BigInteger, nullable=False),
    Column("removed_at_ms", BigInteger, nullable=True),
    Column("removed_how", String(32), nullable=True),
    UniqueConstraint("entry_id"),
    Index("ix_dead_letters_failed_at_ms", "failed_at_ms"),
    Index("ix_dead_letters_tenant_requester", "tenant_id", "requester"),
)

# Every ticket the agent resolved (shared/conversation): once, when and how, and how many
# messages it took. No requester and no text: nothing here for `forget` to erase.
ticket_resolutions = Table(
    "ticket_resolutions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), nullable=False),
    Column("source", String(32), nullable=False),
    Column("ticket_id", String(200), nullable=False),
    Column("how", String(16), nullable=False),  # confirmed | solved | window
    Column("messages", Integer, nullable=False),
    Column("resolved_at_ms", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "source", "ticket_id"),
    Index("ix_ticket_resolutions_resolved_at_ms", "resolved_at_ms"),
)

# Requesters erased by `paceline forget`, by keyed hash only: a fact about them that was
# still in the stream then is stored pseudonymised and without its transcript.
forgotten_requesters = Table(
    "forgotten_requesters",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), nullable=False),
    Column("pseudonym", String(80), nullable=False),
    Column("forgotten_at_ms", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "pseudonym"),
)
