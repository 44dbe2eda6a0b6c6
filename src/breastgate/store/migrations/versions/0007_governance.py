"""governance: audit chain, algorithm registry and modes, users, feedback, outcomes, approvals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_study_instance_uid"), "audit_event", ["study_instance_uid"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"))
    op.create_table(
        "algorithm_version",
        sa.Column("algorithm_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("availability", sa.Text(), nullable=False),
        sa.Column("first_seen_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("algorithm_id", "version", name=op.f("pk_algorithm_version")),
    )
    op.create_table(
        "algorithm_mode",
        sa.Column("algorithm_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("algorithm_id", "version", "destination", name=op.f("pk_algorithm_mode")),
    )
    op.create_table(
        "app_user",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_user")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_user_token_hash")),
    )
    op.create_table(
        "finding_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("algorithm_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm_version", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("modification", sa.Text(), nullable=True),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_feedback")),
    )
    op.create_index(
        op.f("ix_finding_feedback_study_instance_uid"), "finding_feedback", ["study_instance_uid"]
    )
    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=True),
        sa.Column("final_birads", sa.String(length=2), nullable=True),
        sa.Column("density", sa.String(length=1), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("laterality", sa.String(length=1), nullable=True),
        sa.Column("pathology", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.String(length=26), nullable=True),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome")),
    )
    op.create_index(op.f("ix_outcome_study_instance_uid"), "outcome", ["study_instance_uid"])
    op.create_index(op.f("ix_outcome_accession_number"), "outcome", ["accession_number"])
    op.create_table(
        "result_approval",
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("study_instance_uid", "generation", name=op.f("pk_result_approval")),
    )


def downgrade() -> None:
    for table in (
        "result_approval",
        "outcome",
        "finding_feedback",
        "app_user",
        "algorithm_mode",
        "algorithm_version",
        "audit_head",
        "audit_event",
    ):
        op.drop_table(table)
