"""monitoring: device and age index fields, result lookup by version, drift alert state

Revision ID: 0008
Revises: 0007_history
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007_history"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manufacturer", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("model", sa.String(length=64), nullable=True))
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_age", sa.Integer(), nullable=True))
    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_algorithm_id_algorithm_version_created_at",
            ["algorithm_id", "algorithm_version", "created_at"],
            unique=False,
        )
    op.create_table(
        "drift_state",
        sa.Column("algorithm_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=160), nullable=False),
        sa.Column("crossed", sa.Boolean(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("ks_pvalue", sa.Float(), nullable=True),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("alerted_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("algorithm_id", "version", "device", name=op.f("pk_drift_state")),
    )


def downgrade() -> None:
    op.drop_table("drift_state")
    with op.batch_alter_table("result", schema=None) as batch_op:
        batch_op.drop_index("ix_result_algorithm_id_algorithm_version_created_at")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("patient_age")
    with op.batch_alter_table("instance", schema=None) as batch_op:
        batch_op.drop_column("model")
        batch_op.drop_column("manufacturer")
