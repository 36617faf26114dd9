"""The cloud link: how far the store has applied the cloud's inbound feed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_state") as table:
        table.add_column(sa.Column("inbound_cursor", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox_state") as table:
        table.drop_column("inbound_cursor")
