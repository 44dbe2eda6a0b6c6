"""UPS-RS: workitem and transaction UIDs on worklist entries, subscriptions and event reports

Revision ID: 0005_ups
Revises: 0004
Create Date: 2026-11-29 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ups"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("worklist_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workitem_uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("transaction_uid", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_worklist_entry_workitem_uid"), ["workitem_uid"])
    op.create_table(
        "ups_subscription",
        sa.Column("ae_title", sa.String(length=16), nullable=False),
        sa.Column("workitem_uid", sa.String(length=64), nullable=False),
        sa.Column("deletion_lock", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ae_title", "workitem_uid", name=op.f("pk_ups_subscription")),
    )
    op.create_table(
        "ups_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workitem_uid", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ups_event")),
    )
    with op.batch_alter_table("ups_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ups_event_workitem_uid"), ["workitem_uid"], unique=False)


def downgrade() -> None:
    op.drop_table("ups_event")
    op.drop_table("ups_subscription")
    with op.batch_alter_table("worklist_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_worklist_entry_workitem_uid"), type_="unique")
        batch_op.drop_column("transaction_uid")
        batch_op.drop_column("workitem_uid")
