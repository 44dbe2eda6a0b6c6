"""report drafts and their confirmation

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_draft",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("birads", sa.String(length=2), nullable=True),
        sa.Column("density", sa.String(length=1), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("sr_path", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirmed_by", sa.String(length=128), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_birads", sa.String(length=2), nullable=True),
        sa.Column("confirmed_density", sa.String(length=1), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_instance_uid"],
            ["study.study_instance_uid"],
            name=op.f("fk_report_draft_study_instance_uid_study"),
        ),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_report_draft")),
    )


def downgrade() -> None:
    op.drop_table("report_draft")
