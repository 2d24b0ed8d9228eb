"""The tickets the agent resolved (issue 22): `ticket_resolutions`.

Revision ID: 0002
Revises: 0001
Create Date: conversations and resolutions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ticket_resolutions",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("resolved_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_resolutions"),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "ticket_id",
            name="uq_ticket_resolutions_tenant_id_source_ticket_id",
        ),
    )
    op.create_index(
        "ix_ticket_resolutions_resolved_at_ms", "ticket_resolutions", ["resolved_at_ms"]
    )


def downgrade() -> None:
    op.drop_table("ticket_resolutions")
