"""priors for every study: issuer of patient id on study; prior_fetch owed by an order or a study

Revision ID: 0010_priors
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_priors"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer_of_patient_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("prior_fetch", schema=None) as batch_op:
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("study_instance_uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("issuer_of_patient_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("after_date", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("modalities", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_prior_fetch_study_instance_uid"), ["study_instance_uid"]
        )


def downgrade() -> None:
    # Study-triggered pre-fetches have no order: they cannot survive a NOT NULL order_id.
    op.execute(
        "DELETE FROM prior_study WHERE fetch_id IN (SELECT id FROM prior_fetch WHERE order_id IS NULL)"
    )
    op.execute("DELETE FROM prior_fetch WHERE order_id IS NULL")
    with op.batch_alter_table("prior_fetch", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_prior_fetch_study_instance_uid"), type_="unique")
        batch_op.drop_column("modalities")
        batch_op.drop_column("after_date")
        batch_op.drop_column("issuer_of_patient_id")
        batch_op.drop_column("study_instance_uid")
        batch_op.alter_column("order_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_column("issuer_of_patient_id")
