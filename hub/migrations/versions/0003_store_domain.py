"""The store domain: catalogue and price book, label queue, stock ledger, loyalty,
pickups, kiosk orders, booked sales, keyed store requests and the outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_order",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("lines", sa.String(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "loyalty_card",
        sa.Column("card", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("synced_balance", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.Float(), nullable=True),
        sa.Column("synced_store_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("card"),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.String(), nullable=False),
        sa.Column("source_client", sa.String(), nullable=True),
        sa.Column("source_device", sa.String(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_table(
        "outbox_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("acked_seq", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "pickup",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("customer_name", sa.String(), nullable=False),
        sa.Column("customer_contact", sa.String(), nullable=False),
        sa.Column("code_hash", sa.String(), nullable=False),
        sa.Column("lines", sa.String(), nullable=False),
        sa.Column("deadline", sa.Float(), nullable=False),
        sa.Column("arrived_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_pickup_deadline"), "pickup", ["deadline"], unique=False)
    op.create_index(op.f("ix_pickup_state"), "pickup", ["state"], unique=False)
    op.create_table(
        "product",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("gtin", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("measure", sa.String(), nullable=False),
        sa.Column("net_content", sa.Integer(), nullable=True),
        sa.Column("unit_price_basis", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("aisle", sa.String(), nullable=False),
        sa.Column("tax_group", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
        sa.UniqueConstraint("gtin"),
    )
    op.create_table(
        "sale",
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("document_number", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("fiscal_sign", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "document_number"),
    )
    op.create_table(
        "stock_elsewhere",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("store_name", sa.String(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "sku"),
    )
    op.create_table(
        "store_request",
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("client", "key"),
    )
    op.create_table(
        "label_queue",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("previous_amount", sa.Integer(), nullable=True),
        sa.Column("price_version", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["product.sku"],
        ),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "loyalty_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card"],
            ["loyalty_card.card"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_loyalty_move_card"), "loyalty_move", ["card"], unique=False)
    op.create_table(
        "price",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.Float(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("applied_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["product.sku"],
        ),
        sa.PrimaryKeyConstraint("sku", "version"),
    )
    op.create_index(op.f("ix_price_applied_at"), "price", ["applied_at"], unique=False)
    op.create_index(op.f("ix_price_effective_at"), "price", ["effective_at"], unique=False)
    op.create_table(
        "stock_level",
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["product.sku"],
        ),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "stock_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("on_hand_delta", sa.Integer(), nullable=False),
        sa.Column("reserved_delta", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["product.sku"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stock_move_sku"), "stock_move", ["sku"], unique=False)
    op.execute("INSERT INTO outbox_state (id, last_seq, acked_seq) VALUES (1, 0, 0)")


def downgrade() -> None:
    op.drop_table("stock_move")
    op.drop_table("stock_level")
    op.drop_table("price")
    op.drop_table("loyalty_move")
    op.drop_table("label_queue")
    op.drop_table("store_request")
    op.drop_table("stock_elsewhere")
    op.drop_table("sale")
    op.drop_table("product")
    op.drop_table("pickup")
    op.drop_table("outbox_state")
    op.drop_table("outbox")
    op.drop_table("loyalty_card")
    op.drop_table("kiosk_order")
