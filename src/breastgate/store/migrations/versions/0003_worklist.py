"""worklist entries and their change history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 16:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklist_entry",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_instance_uid"],
            ["study.study_instance_uid"],
            name=op.f("fk_worklist_entry_study_instance_uid_study"),
        ),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_worklist_entry")),
    )
    with op.batch_alter_table("worklist_entry", schema=None) as batch_op:
        batch_op.create_index("ix_worklist_entry_rank_arrived_at", ["rank", "arrived_at"], unique=False)
    op.create_table(
        "worklist_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_priority", sa.String(length=16), nullable=True),
        sa.Column("new_priority", sa.String(length=16), nullable=False),
        sa.Column("old_flags", sa.Text(), nullable=True),
        sa.Column("new_flags", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worklist_change")),
    )
    with op.batch_alter_table("worklist_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worklist_change_study_instance_uid"), ["study_instance_uid"], unique=False
        )


def downgrade() -> None:
    op.drop_table("worklist_change")
    op.drop_table("worklist_entry")
