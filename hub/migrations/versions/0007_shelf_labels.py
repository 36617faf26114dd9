"""Shelf labels: a product's grade (сорт), a price's promotion mark, and the print journal.

A tag prints the grade where the product has one, and a promotion price beside the
regular price struck through; both come from the cloud.  The print journal keeps every
tag that reached the paper: which price version, for whom, on which printer, with which
template, so a manager can see what the shelf shows and reprint it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product") as table:
        table.add_column(sa.Column("grade", sa.String(), nullable=True))
    with op.batch_alter_table("price") as table:
        table.add_column(sa.Column("promotion", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "label_print",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("price_version", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("from_queue", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("printed_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["sku"], ["product.sku"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_label_print_sku"), "label_print", ["sku"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_label_print_sku"), table_name="label_print")
    op.drop_table("label_print")
    with op.batch_alter_table("price") as table:
        table.drop_column("promotion")
    with op.batch_alter_table("product") as table:
        table.drop_column("grade")
