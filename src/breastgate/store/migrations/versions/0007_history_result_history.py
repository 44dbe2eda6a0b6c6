"""result history: every algorithm version's result per study (backfilled from ``result``)

Revision ID: 0007_history
Revises: 0007
Create Date: 2026-11-30 10:00:00

To be re-chained after ``0008`` when merged (its number is not known yet).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_history"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("algorithm_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm_version", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_instance_uid"],
            ["study.study_instance_uid"],
            name=op.f("fk_result_history_study_instance_uid_study"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_history")),
        sa.UniqueConstraint(
            "study_instance_uid",
            "algorithm_id",
            "algorithm_version",
            name="uq_result_history_study_version",
        ),
    )
    op.create_index(
        "ix_result_history_algorithm_version",
        "result_history",
        ["algorithm_id", "algorithm_version", "status"],
    )
    # The versions already in ``result`` are the first history (older ones were overwritten).
    op.execute(
        sa.text(
            "INSERT INTO result_history (study_instance_uid, algorithm_id, algorithm_version, status,"
            " generation, payload, created_at)"
            " SELECT study_instance_uid, algorithm_id, algorithm_version, status, generation, payload,"
            " created_at FROM result"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_result_history_algorithm_version", table_name="result_history")
    op.drop_table("result_history")
