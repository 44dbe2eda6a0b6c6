"""identity: several roles and a password per user, sign-in lockout, browser sessions

Revision ID: 0011_identity
Revises: 0010_priors
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_identity"
down_revision = "0010_priors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=32), type_=sa.String(length=128))
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="local"))
        batch_op.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("roles", sa.String(length=128), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_name"), "web_session", ["user_name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_session_user_name"), table_name="web_session")
    op.drop_table("web_session")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_sign_ins")
        batch_op.drop_column("source")
        batch_op.drop_column("password_hash")
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("role", existing_type=sa.String(length=128), type_=sa.String(length=32))
