"""prior pre-fetch queue and prior studies

Revision ID: 0006
Revises: 0005_ups
Create Date: 2026-11-29 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005_ups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prior_fetch",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("before_date", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("studies_found", sa.Integer(), nullable=False),
        sa.Column("studies_moved", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["imaging_order.id"], name=op.f("fk_prior_fetch_order_id_imaging_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prior_fetch")),
        sa.UniqueConstraint("order_id", name=op.f("uq_prior_fetch_order_id")),
    )
    with op.batch_alter_table("prior_fetch", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prior_fetch_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )
    op.create_table(
        "prior_study",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("fetch_id", sa.Integer(), nullable=False),
        sa.Column("study_date", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fetch_id"], ["prior_fetch.id"], name=op.f("fk_prior_study_fetch_id_prior_fetch")
        ),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_prior_study")),
    )
    with op.batch_alter_table("prior_study", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prior_study_fetch_id"), ["fetch_id"], unique=False)


def downgrade() -> None:
    op.drop_table("prior_study")
    op.drop_table("prior_fetch")
