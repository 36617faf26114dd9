"""A sale is keyed by its register, its fiscal storage and its document number.

A fiscal storage (ФН) numbers its documents from 1, and a replaced one starts again:
keyed by (register, document number), the new storage's receipts were taken for the old
one's and never booked.  The key is now (device_id, fn_serial, document_number).

The sales booked before this revision get ``fn_serial = ''``: which storage signed them
was never recorded, here or in the fiscal journal.  Why that still books each of them
once:

- Whatever can deliver one of those receipts again delivers it without a storage too:
  the fiscal journal's results written before this revision carry no ``fn_serial``, and
  the start-up sweep reads a missing one as ``''``, so it finds the ``''`` row and books
  nothing.  (Receipt events in flight do not outlive the restart that runs this.)
- Every receipt from now on carries its storage's serial, so it never meets a ``''``
  row, even with the number of an old receipt from before a storage replacement.
- ``''`` and not NULL: SQLite lets NULL into a primary key column that is not an INTEGER
  PRIMARY KEY, and one NULL never equals another, so (register, NULL, 3) could be booked
  again and again; the key would stop preventing double booking.

SQLite cannot change a primary key in place: the table is rebuilt and its rows copied.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The columns both versions of the table have, in order.
COMMON = "device_id, document_number, operation, fiscal_sign, total, client, idempotency_key, seq, recorded_at"


def _sale_table(name: str, *, with_storage: bool) -> None:
    storage = [sa.Column("fn_serial", sa.String(), nullable=False, server_default="")] if with_storage else []
    key = ("device_id", "fn_serial", "document_number") if with_storage else ("device_id", "document_number")
    op.create_table(
        name,
        sa.Column("device_id", sa.String(), nullable=False),
        *storage,
        sa.Column("document_number", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("fiscal_sign", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def upgrade() -> None:
    _sale_table("sale_keyed_by_storage", with_storage=True)
    op.execute(f"INSERT INTO sale_keyed_by_storage (fn_serial, {COMMON}) SELECT '', {COMMON} FROM sale")
    op.drop_table("sale")
    op.rename_table("sale_keyed_by_storage", "sale")


def downgrade() -> None:
    # Fails (a duplicate key) once a register has booked the same number on two
    # storages: the old key cannot hold both sales, and dropping one would lose it.
    _sale_table("sale_keyed_by_number", with_storage=False)
    op.execute(f"INSERT INTO sale_keyed_by_number ({COMMON}) SELECT {COMMON} FROM sale")
    op.drop_table("sale")
    op.rename_table("sale_keyed_by_number", "sale")
