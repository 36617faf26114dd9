"""What one shelf tag says.

The store builds a ``TagData`` from its catalogue and price book (the hub's side of the
device port); the label printer only lays it out and prints it.  Money is in kopecks
(minor units), as everywhere in the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bus.payloads import DeviceError, ErrorCode, Flag

#: What the unit price is per: the shelf-tag rules (ПП РФ № 2463, 98/6/EC) name these.
UnitBasis = Literal["kg", "l", "100g", "100ml"]


class TagUnitPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=0, description="Kopecks per `per`.")
    per: UnitBasis


class TagData(BaseModel):
    """Everything a tag may show; a template picks the fields it prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    gtin: str | None = Field(
        None, description="EAN-13 (or GTIN-8/12/14) with its check digit; checked before printing."
    )
    name: str = Field(min_length=1, max_length=256)
    grade: str | None = Field(None, max_length=64, description="Сорт / grade, where the product has one.")
    price: int = Field(ge=0, le=10**10, description="Kopecks.")
    old_price: int | None = Field(None, ge=0, le=10**10, description="The price struck through on a promotion tag.")
    currency: Literal["RUB"] = "RUB"
    unit_price: TagUnitPrice | None = None
    price_version: int = Field(ge=0)
    store: str = Field(max_length=128, description="The store's name or id, printed small.")
    printed_on: dt.date
    promotion: Flag = False


class LabelRefused(DeviceError):
    """A tag that would print wrong, refused before anything prints: a wrong GTIN check
    digit, a promotion tag without a higher old price, a price too long for its box.
    The message says what a manager must mend; ``details`` name the SKU."""

    def __init__(self, sku: str, message: str, **details: str) -> None:
        # DESIGN.md's code for a request that cannot be carried out as asked.
        super().__init__(ErrorCode.INVALID_REQUEST, message, {"sku": sku, **details})
        self.sku = sku


#: Copies of one tag in one request: a shelf takes a few, never a roll's worth.
MAX_COPIES = 50
#: Tags in one request (the A4 sheet's and the label printer's batches alike).
MAX_TAGS = 5000


class LabelItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    copies: int = Field(1, strict=True, ge=1, le=MAX_COPIES)


class QueueFilter(BaseModel):
    """Which of the stale-label queue's tags to print; all of them when empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str | None = Field(None, max_length=128)
    skus: list[str] | None = Field(None, max_length=MAX_TAGS)
    limit: int = Field(MAX_TAGS, strict=True, ge=1, le=MAX_TAGS)


class LabelSelection(BaseModel):
    """What a ``print_labels`` request asks for: named products, or the queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[LabelItem] | None = Field(None, max_length=MAX_TAGS)
    queue: QueueFilter | None = None


class PrintedTag(BaseModel):
    """One tag that reached the paper: the shelf now shows this price version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    price_version: int
    copies: int


class LabelsPrinted(BaseModel):
    """A print run's outcome, for the store: the queue, the print journal, the outbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str
    client: str
    template: str
    #: Whether the tags came from the stale-label queue (a reprint of named items does
    #: not clear newer queue entries of other versions either way).
    from_queue: Flag
    printed: list[PrintedTag]
