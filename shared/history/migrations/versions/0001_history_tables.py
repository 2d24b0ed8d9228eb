"""The history tables: model calls, ticket outcomes, thread messages, cap changes, dead
letters, forgotten requesters.

Revision ID: 0001
Revises:
Create Date: the first schema
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

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
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", RowId, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "forgotten_requesters",
        _id(),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("pseudonym", sa.String(80), nullable=False),
        sa.Column("forgotten_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_forgotten_requesters"),
        sa.UniqueConstraint(
            "tenant_id", "pseudonym", name="uq_forgotten_requesters_tenant_id_pseudonym"
        ),
    )
    op.create_table(
        "cap_changes",
        _id(),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("old_micros", sa.BigInteger, nullable=True),
        sa.Column("new_micros", sa.BigInteger, nullable=True),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("changed_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cap_changes"),
        sa.UniqueConstraint(
            "scope", "changed_at_ms", "who", name="uq_cap_changes_scope_changed_at_ms_who"
        ),
    )
    op.create_index("ix_cap_changes_changed_at_ms", "cap_changes", ["changed_at_ms"])
    op.create_table(
        "dead_letters",
        _id(),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("failed_at_ms", sa.BigInteger, nullable=False),
        sa.Column("removed_at_ms", sa.BigInteger, nullable=True),
        sa.Column("removed_how", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint("entry_id", name="uq_dead_letters_entry_id"),
    )
    op.create_index("ix_dead_letters_failed_at_ms", "dead_letters", ["failed_at_ms"])
    op.create_index("ix_dead_letters_tenant_requester", "dead_letters", ["tenant_id", "requester"])
    op.create_table(
        "thread_messages",
        _id(),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_thread_messages"),
        sa.UniqueConstraint(
            "tenant_id",
            "ticket_id",
            "message_id",
            name="uq_thread_messages_tenant_id_ticket_id_message_id",
        ),
    )
    op.create_index("ix_thread_messages_created_at_ms", "thread_messages", ["created_at_ms"])
    op.create_index("ix_thread_messages_tenant_author", "thread_messages", ["tenant_id", "author"])
    op.create_table(
        "ticket_outcomes",
        _id(),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("llm_calls", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.BigInteger, nullable=True),
        sa.Column("reply", sa.Text, nullable=True),
        sa.Column("finalized_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_outcomes"),
        sa.UniqueConstraint(
            "ticket_id",
            "event_id",
            "finalized_at_ms",
            name="uq_ticket_outcomes_ticket_id_event_id_finalized_at_ms",
        ),
    )
    op.create_index(
        "ix_ticket_outcomes_tenant_ticket", "ticket_outcomes", ["tenant_id", "ticket_id"]
    )
    op.create_index("ix_ticket_outcomes_finalized_at_ms", "ticket_outcomes", ["finalized_at_ms"])
    op.create_index(
        "ix_ticket_outcomes_tenant_requester", "ticket_outcomes", ["tenant_id", "requester"]
    )
    # Last: a database that already holds a `model_calls` table fails here, after the tables
    # above were created, and the rollback must take them all back (a test relies on it).
    op.create_table(
        "model_calls",
        _id(),
        sa.Column("reservation_id", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("lane", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("cached_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("expired_charge", sa.Boolean, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("settled_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_calls"),
        sa.UniqueConstraint(
            "reservation_id", "call_id", name="uq_model_calls_reservation_id_call_id"
        ),
    )
    op.create_index(
        "ix_model_calls_day_cover",
        "model_calls",
        ["day"],
        postgresql_include=COVER,
    )
    op.create_index("ix_model_calls_tenant_day", "model_calls", ["tenant_id", "day"])
    op.create_index("ix_model_calls_tenant_ticket", "model_calls", ["tenant_id", "ticket_id"])
    op.create_index("ix_model_calls_tenant_requester", "model_calls", ["tenant_id", "requester"])


def downgrade() -> None:
    for table in (
        "model_calls",
        "ticket_outcomes",
        "thread_messages",
        "dead_letters",
        "cap_changes",
        "forgotten_requesters",
    ):
        op.drop_table(table)
