"""HL7 orders, patients and the received-message log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=324), nullable=True),
        sa.Column("birth_date", sa.String(length=8), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("merged_into", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patient")),
    )
    op.create_table(
        "imaging_order",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_key", sa.String(length=64), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("placer_order_number", sa.String(length=64), nullable=True),
        sa.Column("filler_order_number", sa.String(length=64), nullable=True),
        sa.Column("requested_procedure_id", sa.String(length=64), nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("control", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=True),
        sa.Column("procedure_text", sa.String(length=256), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("scheduled", sa.String(length=26), nullable=True),
        sa.Column("scheduled_date", sa.String(length=8), nullable=True),
        sa.Column("priority", sa.String(length=1), nullable=True),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("requested_study_uid", sa.String(length=64), nullable=True),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("match_method", sa.String(length=32), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imaging_order")),
        sa.UniqueConstraint("order_key", name=op.f("uq_imaging_order_order_key")),
    )
    with op.batch_alter_table("imaging_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_imaging_order_accession_number"), ["accession_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_imaging_order_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_imaging_order_study_instance_uid"), ["study_instance_uid"], unique=False
        )
        batch_op.create_index(
            "ix_imaging_order_patient_id_scheduled_date", ["patient_id", "scheduled_date"], unique=False
        )
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.create_index("ix_study_patient_id_study_date", ["patient_id", "study_date"], unique=False)
    op.create_table(
        "hl7_message",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("control_id", sa.String(length=199), nullable=True),
        sa.Column("sending_application", sa.String(length=227), nullable=True),
        sa.Column("sending_facility", sa.String(length=227), nullable=True),
        sa.Column("message_type", sa.String(length=16), nullable=True),
        sa.Column("version", sa.String(length=16), nullable=True),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("error_code", sa.String(length=8), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_message")),
    )
    with op.batch_alter_table("hl7_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hl7_message_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("hl7_message")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_index("ix_study_patient_id_study_date")
    op.drop_table("imaging_order")
    op.drop_table("patient")
