"""sectra_exam: Sectra's examination number of a study (from Data Provider calls)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sectra_exam",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("exam_no", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("study_instance_uid", name=op.f("pk_sectra_exam")),
    )


def downgrade() -> None:
    op.drop_table("sectra_exam")
