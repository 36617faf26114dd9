"""The device journal: money devices' requests and outcomes, kept across crashes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_journal",
        sa.Column("device_id", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("request", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("checkpoint", sa.String(), nullable=False, server_default="{}"),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_device_journal_state", "device_journal", ["state"])


def downgrade() -> None:
    op.drop_index("ix_device_journal_state", "device_journal")
    op.drop_table("device_journal")
