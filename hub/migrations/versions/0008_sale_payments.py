"""A sale keeps how it was paid: the card and points parts (cash is the rest).

The store's day (receipts, revenue, the card/cash split) sums the ``sale`` table; the
payments were only in the ``sale.completed`` event, and the outbox prunes delivered
events.  ``card`` and ``points`` are the minor units paid by card and with loyalty
points; cash is the total less both, so a cash payment's change never counts.

The sales booked before this revision take their split from their event while the
outbox still has it; where it was pruned both stay NULL: the split is not known, and the
day's figures say how much of the revenue that is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _paid(kind: str) -> str:
    """The sum of a sale's ``kind`` payments, from its event (0 if it has none)."""
    return (
        "(SELECT COALESCE(SUM(json_extract(payment.value, '$.amount')), 0)"
        " FROM outbox, json_each(outbox.data, '$.payments') AS payment"
        f" WHERE outbox.seq = sale.seq AND json_extract(payment.value, '$.type') = '{kind}')"
    )


def upgrade() -> None:
    with op.batch_alter_table("sale") as table:
        table.add_column(sa.Column("card", sa.Integer(), nullable=True))
        table.add_column(sa.Column("points", sa.Integer(), nullable=True))
    op.execute(
        f"UPDATE sale SET card = {_paid('card')}, points = {_paid('loyalty')}"
        " WHERE EXISTS (SELECT 1 FROM outbox WHERE outbox.seq = sale.seq)"
    )


def downgrade() -> None:
    with op.batch_alter_table("sale") as table:
        table.drop_column("points")
        table.drop_column("card")
