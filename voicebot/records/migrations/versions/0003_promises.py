"""Promise book: every promise to pay heard on a call, with its state (pending, kept, partly
kept, broken) and the follow-up steps taken, and the payments the lender's feed reported
(voicebot/records/promises.py).

Revision ID: 0003_promises
Revises: 0002_contact_history
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_promises"
down_revision = "0002_contact_history"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=12, scale=2, asdecimal=False)


def upgrade() -> None:
    op.create_table(
        "vb_payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),  # an import is idempotent on it
    )
    op.create_index(op.f("ix_vb_payments_account_id"), "vb_payments", ["account_id"], unique=False)
    op.create_index(op.f("ix_vb_payments_paid_at"), "vb_payments", ["paid_at"], unique=False)
    op.create_table(
        "vb_promises",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("voice", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id"),  # one promise per call
    )
    for column in ("account_id", "made_on", "promised_on", "stage", "state"):
        op.create_index(op.f(f"ix_vb_promises_{column}"), "vb_promises", [column], unique=False)


def downgrade() -> None:
    op.drop_table("vb_promises")
    op.drop_table("vb_payments")
