"""Contact history: every attempt to reach a debtor (campaign dials, calls the server took,
calls in, texts), the one history the contact rules are asked with at every call start.

Revision ID: 0002_contact_history
Revises: 0001_baseline
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_contact_history"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vb_contact_attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("conversation", sa.Boolean(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    # "this account's (or this number's) attempts since T": the question every call start asks
    op.create_index("ix_vb_contact_attempts_account_started", "vb_contact_attempts",
                    ["account_id", "started_at"], unique=False)
    op.create_index("ix_vb_contact_attempts_phone_started", "vb_contact_attempts",
                    ["phone", "started_at"], unique=False)
    op.create_index(op.f("ix_vb_contact_attempts_call_id"), "vb_contact_attempts", ["call_id"], unique=False)


def downgrade() -> None:
    op.drop_table("vb_contact_attempts")
