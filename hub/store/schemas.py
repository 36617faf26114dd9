"""What the store domain takes in and gives out, at the REST API and on the bus.

Shapes follow the FastAPI template's split: ``…Base`` the shared fields, ``…Create``
what a till or kiosk sends, ``…In`` what the cloud sends, ``…Public`` what callers get
back.  What the store and its cloud say to each other is ``cloud_link.contract``: the
events, the feed, how an inbound body is cut into kinds; the ``…In`` models are the
store's reading of each inbound item, with its own rules (check digits, plausible
moments, strict money), and fill the contract's ``InboundItems`` as ``InboundBatch``.  Every body forbids unknown fields.  Money is in minor units (kopecks, cents);
quantities are decimals with up to three places (pieces, kg or litres), as the fiscal
register counts them.  Money, counts, quantities and flags are the bus's strict types
(``bus.payloads``): ``true`` is no amount and ``"٣"`` no quantity, through either door.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from stdnum import ean

from bus.payloads import Count, Flag
from bus.payloads import Money as StrictMoney
from bus.payloads import Quantity as StrictQuantity
from cloud_link.contract import MAX_SERIAL, InboundItems

MAX_ORDER_LINES = 100
MAX_MONEY = 10**10  # minor units: a hundred million in major units
MAX_QUANTITY = Decimal("999999.999")

QUANTITY_SCALE = 1000

#: Moments from the cloud must lie in this range (as UTC years): a price "effective"
#: in year 1 or 9999 is a mistake, and would not survive the trip through UTC.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999


def _valid_gtin(value: str) -> str:
    if not ean.is_valid(value):
        raise ValueError("is not a GTIN-8/12/13/14 with a valid check digit")
    return value


def _plausible(moment: dt.datetime) -> dt.datetime:
    year = moment.astimezone(dt.UTC).year if EARLIEST_YEAR < moment.year < LATEST_YEAR else moment.year
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]
Version = Annotated[Count, Field(ge=0, le=MAX_SERIAL)]
Seq = Annotated[Count, Field(ge=0, le=MAX_SERIAL)]

Sku = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    Field(description="The store's article number.", examples=["MLK-001"]),
]
Gtin = Annotated[
    str,
    StringConstraints(pattern=r"^([0-9]{8}|[0-9]{12,14})$"),
    AfterValidator(_valid_gtin),
    Field(description="The barcode: GTIN-8, -12, -13 or -14, check digit included.", examples=["4600682000013"]),
]
Card = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9-]{4,64}$"),
    Field(description="A loyalty card number.", examples=["7700123456789"]),
]
Money = Annotated[StrictMoney, Field(ge=0, le=MAX_MONEY, description="Minor units (kopecks, cents).", examples=[8990])]
Points = Annotated[Count, Field(gt=0, le=MAX_MONEY, description="Loyalty points (one point is one minor unit).")]
Quantity = Annotated[
    StrictQuantity,
    Field(gt=0, le=MAX_QUANTITY, decimal_places=3, description="Pieces, kg or litres.", examples=["2", "0.450"]),
]
Key = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(description="Makes the write happen once: a retry with the same key gets the first answer."),
]
Text = Annotated[str, StringConstraints(max_length=200)]
Measure = Literal["piece", "kg", "l"]
UnitPriceBasis = Literal["kg", "l", "100g", "100ml"]


def thousandths(quantity: Decimal) -> int:
    return int(quantity * QUANTITY_SCALE)


def decimal_quantity(value: int) -> Decimal:
    return (Decimal(value) / QUANTITY_SCALE).quantize(Decimal("0.001"))


def epoch(moment: dt.datetime) -> float:
    return moment.timestamp()


def aware(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, dt.UTC)


class StoreModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- catalogue and prices -----------------------------------------------------------


class ProductBase(StoreModel):
    sku: Sku
    gtin: Gtin | None = None
    name: str = Field(min_length=1, max_length=128, examples=["Молоко 3,2% 0,9 л"])
    measure: Measure = Field("piece", description="What the till counts: pieces, kg (weighed) or litres.")
    net_content: StrictQuantity | None = Field(
        None, gt=0, le=MAX_QUANTITY, decimal_places=3, description="kg or litres in one piece, for the unit price."
    )
    unit_price_basis: UnitPriceBasis | None = Field(
        None, description="The unit price printed on the shelf label: per kg, l, 100 g or 100 ml."
    )
    category: Text = ""
    aisle: Annotated[str, StringConstraints(max_length=32)] = ""
    tax_group: Count = Field(1, ge=1, le=4, description="The fiscal register's tax group.")
    grade: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Сорт / grade, printed on the shelf label where the product has one.", examples=["высший"]
    )


class ProductIn(ProductBase):
    """A product as the cloud sends it; applied only if newer than what the hub has."""

    version: Version = Field(description="The cloud's version of this product record.")


class PriceIn(StoreModel):
    """A price as the cloud sends it: one version of one product's price."""

    sku: Sku
    version: Version = Field(ge=1, description="Grows with every price change of this product.")
    amount: Money
    effective_at: Moment | None = Field(None, description="When it takes effect; now if omitted.")
    promotion: Flag = Field(
        False, description="A promotion price: its shelf label shows the regular price struck through beside it."
    )


class PricePublic(StoreModel):
    amount: Money
    version: int
    effective_at: dt.datetime
    promotion: bool = Field(False, description="A promotion price.")


class UnitPrice(StoreModel):
    amount: Money
    per: UnitPriceBasis


class StockHere(StoreModel):
    on_hand: Decimal
    reserved: Decimal
    available: Decimal


class StockElsewherePublic(StoreModel):
    store_id: str
    store_name: str
    available: Decimal
    as_of: dt.datetime
    age_s: float = Field(description="How old the cloud's snapshot is.")


class ProductPublic(ProductBase):
    version: int
    price: PricePublic | None = Field(description="The price in effect now; null if the product has none yet.")
    unit_price: UnitPrice | None
    stock: StockHere
    elsewhere: list[StockElsewherePublic] = Field(description="Other stores with this product, most first.")
    label_stale: bool = Field(description="Its shelf label waits in the label queue.")


class ProductSummary(StoreModel):
    sku: str
    gtin: str | None
    name: str
    price: Money | None
    available: Decimal


class ProductSearch(StoreModel):
    query: str
    products: list[ProductSummary]


class LabelPublic(StoreModel):
    sku: str
    gtin: str | None
    name: str
    category: str = Field(description="The product's category: print_labels' queue filter takes it.")
    aisle: str
    amount: Money
    previous_amount: Money | None
    price_version: int
    unit_price: UnitPrice | None
    queued_at: dt.datetime


class ShelfTruth(StoreModel):
    """How far the shelf labels are from the price book, as a number a manager can watch."""

    count: int = Field(description="Shelf labels showing a price that is no longer the price.")
    oldest_queued_at: dt.datetime | None = Field(description="When the longest-waiting label went stale; null if none.")
    oldest_age_s: float | None = Field(description="How long that label has been wrong, in seconds; null if none.")


class LabelQueue(ShelfTruth):
    matching: int = Field(0, description="The stale labels the search and category match (all of them without).")
    labels: list[LabelPublic] = Field(description="The stale labels, in aisle order (up to `limit`).")


class LabelPrintPublic(StoreModel):
    """One line of the print journal: a tag that reached the paper."""

    sku: str
    name: str
    price_version: int
    amount: Money
    copies: int
    template: str
    device: str = Field(description="The label printer.")
    client: str = Field(description="Who asked for the print.")
    from_queue: bool = Field(description="Printed from the stale-label queue rather than named one by one.")
    seq: int = Field(description="The labels.printed event that tells the cloud.")
    printed_at: dt.datetime


class LabelJournal(StoreModel):
    entries: list[LabelPrintPublic] = Field(description="Newest first.")


class LabelSheet(StoreModel):
    """An A4 PDF sheet of tags a label printer of the office kind wrote."""

    name: str
    bytes: int
    written_at: dt.datetime


class LabelSheets(StoreModel):
    sheets: list[LabelSheet] = Field(description="Newest first.")


# -- stock --------------------------------------------------------------------------


class StockMoveCreate(StoreModel):
    """Goods received, written off, or counted at inventory."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"sku": "MLK-001", "kind": "receipt", "quantity": "24", "reason": "delivery 118"}]
        },
    )
    sku: Sku
    kind: Literal["receipt", "write_off", "count"] = Field(
        description="receipt: goods in; write_off: goods out (damaged, expired); count: the level found at inventory."
    )
    quantity: StrictQuantity = Field(
        ge=0, le=MAX_QUANTITY, decimal_places=3, description="Received or written off (> 0), or counted (>= 0)."
    )
    reason: Text = ""
    idempotency_key: Key | None = None


class StockMovePublic(StoreModel):
    sku: str
    kind: str
    quantity: Decimal = Field(description="Signed change of the level on hand.")
    stock: StockHere
    seq: int = Field(description="The outbox event that tells the cloud.")


class StockElsewhereIn(StoreModel):
    store_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    store_name: Text = ""
    sku: Sku
    available: StrictQuantity = Field(ge=0, le=MAX_QUANTITY, decimal_places=3)
    as_of: Moment


# -- loyalty ------------------------------------------------------------------------


class LoyaltyPublic(StoreModel):
    card: str
    holder: str
    synced_balance: int = Field(description="The balance the cloud last sent.")
    synced_at: dt.datetime | None
    pending_accruals: int = Field(description="Points accrued here that the synced balance does not include yet.")
    pending_redemptions: int = Field(description="Points spent here that the synced balance does not include yet.")
    available: int = Field(description="What the card may spend now: synced balance minus pending redemptions.")


class AccrualCreate(StoreModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"paid_amount": 125000, "reference": "order 17"}]}
    )
    points: Points | None = Field(None, description="Points to add; or give paid_amount and the store's rule decides.")
    paid_amount: Money | None = Field(None, description="The amount paid, for the store's accrual rule.")
    reference: Text = ""
    idempotency_key: Key | None = None


class RedemptionCreate(StoreModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"points": 500, "idempotency_key": "till-1-r-0042"}]}
    )
    points: Points
    reference: Text = ""
    idempotency_key: Key | None = None


class LoyaltyMovePublic(StoreModel):
    card: str
    kind: Literal["accrual", "redemption"]
    points: int
    seq: int
    balance: LoyaltyPublic


class LoyaltySnapshotIn(StoreModel):
    """The cloud's balance of a card, and how much of this store's ledger it includes."""

    card: Card
    holder: Text = ""
    balance: Count = Field(ge=0, le=MAX_MONEY)
    store_seq: Seq = Field(description="The highest of this store's event seqs the balance includes.")
    as_of: Moment


# -- pickups ------------------------------------------------------------------------

PickupState = Literal["arrived", "ready", "collected", "returned", "cancelled"]


class PickupLine(StoreModel):
    sku: Sku
    quantity: Quantity
    name: Text = ""


class PickupIn(StoreModel):
    """A click-and-collect order as the cloud sends it."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    version: Version
    customer_name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    customer_contact: Text = ""
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{4,16}$")] = Field(
        description="The code the shopper shows at collection; the hub keeps only its hash."
    )
    deadline: Moment
    lines: list[PickupLine] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    cancelled: Flag = Field(False, description="The shopper cancelled online.")


class PickupPublic(StoreModel):
    id: str
    version: int
    state: PickupState
    customer_name: str
    customer_contact: str
    deadline: dt.datetime
    overdue: bool
    lines: list[PickupLine]
    arrived_at: dt.datetime
    updated_at: dt.datetime
    next_states: list[PickupState] = Field(description="Where it may go from here.")


class PickupList(StoreModel):
    count: int
    pickups: list[PickupPublic]


class PickupTransition(StoreModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"to": "collected", "code": "4821"}]})
    to: Literal["ready", "collected", "returned", "cancelled"]
    code: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        None, description="The shopper's collection code; required to collect."
    )


# -- kiosk orders -------------------------------------------------------------------


class OrderLine(StoreModel):
    sku: Sku
    quantity: Quantity


class Customer(StoreModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    contact: Annotated[str, StringConstraints(min_length=3, max_length=128)] = Field(description="Phone or e-mail.")
    address: Annotated[str, StringConstraints(min_length=3, max_length=300)]


class KioskOrderCreate(StoreModel):
    """An endless-aisle order for home delivery, placed at a kiosk."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lines": [{"sku": "TEA-017", "quantity": "2"}],
                    "customer": {"name": "Анна", "contact": "+7 900 000-00-00", "address": "Тверская 1, кв. 5"},
                    "idempotency_key": "kiosk-1-o-0007",
                }
            ]
        },
    )
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_ORDER_LINES)
    customer: Customer
    idempotency_key: Key | None = None


class OrderLinePublic(OrderLine):
    name: str
    price: Money
    total: Money


class KioskOrderPublic(StoreModel):
    id: str
    lines: list[OrderLinePublic]
    total: Money
    customer: Customer
    created_at: dt.datetime
    seq: int


# -- sync (the cloud) ---------------------------------------------------------------


class InboundBatch(InboundItems[ProductIn, PriceIn, PickupIn, LoyaltySnapshotIn, StockElsewhereIn]):
    """Whatever the cloud has for this store; each item applied once, by id and version."""


class Ignored(StoreModel):
    kind: str
    id: str
    version: int | None = None
    reason: str = Field(description="older_version, same_version, not_applicable, gtin_used_by:… or invalid: …")
    current_version: int | None = None


class InboundReport(StoreModel):
    applied: dict[str, int] = Field(description="How many of each kind changed something.")
    pending: int = Field(0, description="Prices stored to take effect later.")
    parked: int = Field(
        0,
        description="Prices and pickups waiting for a product the store does not know yet (all of them, not only this batch's).",
    )
    ignored: list[Ignored]


class SyncAck(StoreModel):
    upto_seq: Seq = Field(description="Every event up to this seq is safely in the cloud.")


class SyncAckResult(StoreModel):
    acked_seq: int
    moved: bool = Field(description="False when the cloud had acknowledged that far already.")


# -- the store's day -----------------------------------------------------------------


class DayFigures(StoreModel):
    """Receipts and money over a stretch of the day, refunds taken off."""

    receipts: int = Field(description="Sale receipts.")
    refunds: int = Field(description="Refund receipts.")
    sold: Money = Field(description="What the sale receipts came to.")
    refunded: Money = Field(description="What the refund receipts gave back.")
    revenue: int = Field(description="sold less refunded, minor units (below 0 if refunds outweigh sales).")
    average_receipt: Money | None = Field(description="sold / receipts, rounded half up; null with no sale receipt.")
    card: int = Field(description="Revenue paid by card, refunds by card taken off.")
    cash: int = Field(description="Revenue paid in cash (the change not counted), refunds in cash taken off.")
    points: int = Field(description="Revenue paid with loyalty points, refunds in points taken off.")
    unsplit: int = Field(
        description="Revenue of sales booked before the store kept payments, whose event is pruned: "
        "how it was paid is not known (0 for any day after the upgrade)."
    )


class TillDay(DayFigures):
    till: str = Field(description="The till (client) that asked for the receipts; the register's id if none did.")


class StoreDay(DayFigures):
    """The store's day: its receipts from local midnight to midnight, in all and per till."""

    since: dt.datetime = Field(description="Local midnight the day starts at, with its UTC offset.")
    until: dt.datetime = Field(description="The next midnight.")
    timezone: str = Field(description="The hub's local time zone, whose midnights bound the day.")
    tills: list[TillDay] = Field(description="One per till that booked a receipt that day, by name.")
