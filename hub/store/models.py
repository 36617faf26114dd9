"""Tables.  Every change here comes with an Alembic migration in hub/migrations."""

from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Boot(SQLModel, table=True):
    """One row per hub start; its id is the boot number on ``hub/state``."""

    id: int | None = Field(default=None, primary_key=True)
    started_at: float
    version: str


class DeviceJournalRow(SQLModel, table=True):
    """A money device's request and its outcome (devices/journal.py), one per key."""

    __tablename__ = "device_journal"

    device_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    client: str
    action: str
    request: str  # JSON
    state: str = Field(index=True)
    checkpoint: str = "{}"  # JSON
    result: str | None = None  # JSON
    error: str | None = None  # JSON
    attempts: int = 1
    created_at: float
    updated_at: float


# -- the store domain (DESIGN.md, The store domain) --------------------------------
#
# Money is in minor units (kopecks, cents) and quantities in thousandths (grams,
# millilitres, a thousandth of a piece), as the fiscal register counts them: integers
# add up exactly.


class Product(SQLModel, table=True):
    """A catalogue entry, as the cloud last sent it (or the demo seeded it)."""

    #: Shelf order, the label queue's: the Labels page reads a page without sorting them all.
    __table_args__ = (Index("ix_product_shelf_order", "aisle", "name", "sku"),)

    sku: str = Field(primary_key=True)
    gtin: str | None = Field(default=None, unique=True)
    name: str
    measure: str  # piece, kg or l: what the till counts
    net_content: int | None = None  # thousandths of kg or l in one piece, for the unit price
    unit_price_basis: str | None = None  # kg, l, 100g, 100ml
    category: str = ""
    aisle: str = ""
    tax_group: int = 1
    grade: str | None = None  # сорт, printed on the shelf label where there is one
    version: int = 0
    updated_at: float


class PriceRow(SQLModel, table=True):
    """One version of one product's price; the current one is the newest effective version."""

    __tablename__ = "price"

    sku: str = Field(primary_key=True, foreign_key="product.sku")
    version: int = Field(primary_key=True)
    amount: int
    effective_at: float = Field(index=True)
    received_at: float
    #: The moment the hub put this price on the shelf (label queue); null while pending.
    applied_at: float | None = Field(default=None, index=True)
    #: A promotion price: its tag shows the regular price struck through beside it.
    promotion: bool = False


class StaleLabel(SQLModel, table=True):
    """A shelf label that no longer shows the price: one per product, the newest price."""

    __tablename__ = "label_queue"

    sku: str = Field(primary_key=True, foreign_key="product.sku")
    amount: int
    previous_amount: int | None
    price_version: int
    queued_at: float


class LabelPrint(SQLModel, table=True):
    """The print journal: one row per tag that reached the paper (and its copies)."""

    __tablename__ = "label_print"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(index=True, foreign_key="product.sku")
    price_version: int
    amount: int  # the price the tag shows, kopecks
    template: str
    device: str  # the label printer
    client: str  # who asked for the print
    copies: int
    from_queue: bool  # printed from the stale-label queue, not named one by one
    seq: int  # the labels.printed event that tells the cloud
    printed_at: float


class StockMove(SQLModel, table=True):
    """One line of the append-only stock ledger."""

    __tablename__ = "stock_move"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(index=True, foreign_key="product.sku")
    kind: str  # sale, refund, receipt, write_off, count, reservation, release, collection
    on_hand_delta: int  # thousandths
    reserved_delta: int = 0  # thousandths
    reference: str = ""
    client: str = ""
    seq: int | None = None  # the outbox event that carries it
    occurred_at: float


class StockLevel(SQLModel, table=True):
    """The ledger's running totals per product, kept in the same transaction as each move."""

    __tablename__ = "stock_level"

    sku: str = Field(primary_key=True, foreign_key="product.sku")
    on_hand: int = 0
    reserved: int = 0


class StockElsewhere(SQLModel, table=True):
    """Another store's available stock, from the cloud's last snapshot."""

    __tablename__ = "stock_elsewhere"

    store_id: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    store_name: str = ""
    available: int  # thousandths
    as_of: float


class LoyaltyCard(SQLModel, table=True):
    __tablename__ = "loyalty_card"

    card: str = Field(primary_key=True)
    holder: str = ""
    synced_balance: int = 0  # points
    synced_at: float | None = None
    #: The highest of this store's outbox seq the synced balance already includes.
    synced_store_seq: int = 0


class LoyaltyMove(SQLModel, table=True):
    """One accrual or redemption made in this store."""

    __tablename__ = "loyalty_move"

    id: int | None = Field(default=None, primary_key=True)
    card: str = Field(index=True, foreign_key="loyalty_card.card")
    kind: str  # accrual, redemption
    points: int  # positive
    reference: str = ""
    client: str = ""
    seq: int
    occurred_at: float


class Pickup(SQLModel, table=True):
    """A click-and-collect order waiting in this store."""

    id: str = Field(primary_key=True)
    version: int = 0
    state: str = Field(index=True)  # arrived, ready, collected, returned, cancelled
    customer_name: str
    customer_contact: str = ""
    code_hash: str
    lines: str  # JSON: [{sku, quantity (thousandths), name}]
    deadline: float = Field(index=True)
    arrived_at: float
    updated_at: float


class KioskOrder(SQLModel, table=True):
    """An endless-aisle order a kiosk placed for home delivery."""

    __tablename__ = "kiosk_order"

    id: str = Field(primary_key=True)
    client: str
    customer: str  # JSON
    lines: str  # JSON
    total: int
    seq: int
    created_at: float


class Sale(SQLModel, table=True):
    """A fiscal document the store domain has booked: one row per document, ever.

    A document is named by its register, its fiscal storage and its number in that
    storage: a replaced storage numbers from 1 again.  ``fn_serial`` is "" for the sales
    booked before the storage was recorded (migration 0006)."""

    device_id: str = Field(primary_key=True)
    fn_serial: str = Field(default="", primary_key=True)
    document_number: int = Field(primary_key=True)
    operation: str  # sale, refund
    fiscal_sign: int | None = None
    total: int
    #: Paid by card and with points, minor units; cash is the rest.  NULL for a sale
    #: booked before these were kept whose event was pruned (migration 0008).
    card: int | None = None
    points: int | None = None
    client: str = ""
    idempotency_key: str | None = None
    seq: int
    recorded_at: float


class StoreRequest(SQLModel, table=True):
    """A keyed write from a till or the cloud, and its answer: a retry gets the answer again."""

    __tablename__ = "store_request"

    client: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    operation: str
    fingerprint: str
    answer: str  # JSON
    created_at: float


class OutboxEvent(SQLModel, table=True):
    """A store event for the cloud (DESIGN.md, Replication): written with its change."""

    __tablename__ = "outbox"

    seq: int = Field(primary_key=True)
    event_id: str = Field(unique=True)
    type: str
    occurred_at: str  # RFC 3339, UTC
    source_client: str | None = None
    source_device: str | None = None
    schema_version: int = 1
    data: str  # JSON


class OutboxState(SQLModel, table=True):
    """One row: the last seq handed out, how far the cloud has acknowledged, and how
    far the store has applied the cloud's inbound feed."""

    __tablename__ = "outbox_state"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    acked_seq: int = 0
    acked_at: float | None = None
    inbound_cursor: int = 0


class ParkedInbound(SQLModel, table=True):
    """A price or pickup from the cloud that names a product the store does not know yet:
    kept, and applied when the product arrives, instead of lost."""

    __tablename__ = "inbound_parked"

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # prices, pickups
    item_id: str
    body: str  # JSON, as the cloud sent it
    parked_at: float


metadata = SQLModel.metadata
