"""The store↔cloud wire contract, once: what the store and any cloud put on the wire
to each other, as pydantic models both ends use (docs/cloud.md and docs/sync.md say it
in words).

- **events**: ``Event``, as the store's outbox commits it; a pushed ``EventBatch`` and
  the cloud's answer to it, ``BatchReceipt``; the cloud's ``Position``; a page of the
  store's pull feed, ``Feed``;
- **inbound**: the kinds a cloud publishes for a store (``INBOUND_KINDS``, in the order
  the store applies them), one list per kind (``InboundItems``), and a page of the
  store's inbound long poll, ``InboundPage``;
- the bounds on all of it (``MAX_SERIAL``, ``MAX_BATCH_EVENTS``, ``MAX_INBOUND_ITEMS``,
  ``MAX_GAPS_SHOWN``).

What is wire and what is store.  The wire is what both ends must agree on to talk at
all: field names, which may be left out, the bounds, and how an inbound body is cut
into kinds.  An inbound *item* is not wire: the cloud publishes each one as a JSON
object and passes it on untouched, and only the store reads it — a product's GTIN
check digit, strict money, a plausible year, a pickup's lines are the store's own
rules, kept with its domain in ``hub.store.schemas`` (``ProductIn``, ``PriceIn``, …),
where they also describe the hub's ``POST /api/v1/sync/inbound``.  So ``InboundItems``
is generic in its item types: the store fills it with its domain models
(``hub.store.schemas.InboundBatch``), a cloud with plain objects (``PublishedItems``);
a new kind is a field and its type parameter here, and a model and its apply in the store.  For the same reason the
pull feed's acknowledgement (``SyncAck``) stays the hub's: it is a body of the hub's
API, read with the bus's strict counts.

Bodies a party sends are read strictly (unknown fields refused: the reference cloud is
there to catch a drifting contract); answers are read leniently (``Answer``: unknown
fields ignored, and the counts a minimal cloud may leave out default to zero), so a
newer cloud that says more, or a gateway that says only ``contiguous_seq``, is still
understood.  Patterns, not Python validators, wherever an event is checked: a
1,000-event batch is validated in ~2 ms this way, ~9 ms with callbacks.  An event's
moment is written out as the store writes it (UTC, to the millisecond), so the hub's
feed gives its stored events back byte for byte.

``cloud_link`` imports nothing of ``hub`` or ``devices``: this module is the code the
reference cloud and the hub share.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    with_config,
)
from typing_extensions import TypedDict

#: Seqs, versions and cursors stay below this, so they fit SQLite's 64-bit integers with room to count on.
MAX_SERIAL = 2**62

#: A batch holds at most this many events: a backlog drains in ~1,000s, and 5,000 keeps one transaction short.
MAX_BATCH_EVENTS = 5_000

#: At most this many items of each kind in one inbound body: a whole price book arrives
#: in a few calls, and no single call holds the store's writer for long.
MAX_INBOUND_ITEMS = 5_000

#: A position or receipt lists at most this many missing ranges: enough to act on, never a megabyte of gaps.
MAX_GAPS_SHOWN = 100

#: Store ids as the hub spells them (``bus.topics.ID_PATTERN``, copied: cloud_link imports nothing of the hub's side).
STORE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

StoreId = Annotated[str, StringConstraints(pattern=STORE_ID_PATTERN)]
Serial = Annotated[int, Field(ge=0, le=MAX_SERIAL)]
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)]
Name = Annotated[str, StringConstraints(max_length=128)]
Gap = tuple[int, int]
#: An inbound item as a cloud holds it: a JSON object it passes on untouched.
Item = dict[str, Any]


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A moment on the wire: RFC 3339 with a zone coming in, UTC to the millisecond going
#: out (``…T10:00:00.123Z``), as the store writes its events.
Moment = Annotated[AwareDatetime, PlainSerializer(_rfc3339, return_type=str, when_used="json")]


class Body(BaseModel):
    """What a party sends: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """What a party answers: read for what the reader needs, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore")


# -- events: the store to the cloud ----------------------------------------------------


@with_config(ConfigDict(extra="forbid"))
class EventSource(TypedDict, total=False):
    """Who caused the event: a till or kiosk, and the device involved (a TypedDict: cheap per event)."""

    client: Name | None
    device: Name | None


class Event(Body):
    """One outbox event, as the store commits it.  A cloud holds it exactly as received."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    event_id: Uuid = Field(description="Time-ordered UUID (v7); the cloud holds each event_id once.")
    store_id: StoreId
    seq: Annotated[int, Field(ge=1, le=MAX_SERIAL, description="Gapless per store, from 1.")]
    type: EventType = Field(examples=["sale.completed"])
    occurred_at: Moment
    source: EventSource
    schema_: int = Field(alias="schema", ge=1, le=1_000)
    data: dict[str, Any]


class EventBatch(Body):
    """``POST /v1/stores/{store}/events``: a seq range of the store's outbox, ``Idempotency-Key: {first}-{last}``."""

    store_id: StoreId
    first_seq: Annotated[int, Field(ge=1, le=MAX_SERIAL)]
    last_seq: Annotated[int, Field(ge=1, le=MAX_SERIAL)]
    head_seq: Serial = Field(description="The store's newest committed seq, for the lag.")
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class Feed(Answer):
    """A page of the store's pull feed, ``GET /api/v1/sync/events``; fields it may add later are ignored."""

    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)
    last_seq: Serial = Field(description="The newest event's seq in the outbox.")
    acked_seq: Serial = Field(description="How far the cloud has acknowledged.")


# -- the cloud's answers -----------------------------------------------------------------


class Position(Answer):
    """``GET /v1/stores/{store}/position``: how far the cloud holds the store's events."""

    store_id: str = ""
    contiguous_seq: int = Field(ge=0, description="Every seq from 1 to here is held: the store may treat it as safe.")
    high_water_seq: int = Field(0, ge=0, description="The highest seq held.")
    gaps: list[Gap] = Field(
        default_factory=list,
        description=f"Missing [first, last] ranges above contiguous_seq, at most {MAX_GAPS_SHOWN}.",
    )


class BatchReceipt(Answer):
    """The cloud's answer to an ``EventBatch``; the store marks delivered up to ``contiguous_seq``."""

    contiguous_seq: int = Field(ge=0)
    high_water_seq: int = Field(0, ge=0)
    accepted: int = Field(0, ge=0, description="Events held for the first time.")
    duplicates: int = Field(0, ge=0, description="Events held already (same event_id).")
    conflicts: int = Field(
        0, ge=0, description="Events whose seq is held under another event_id; the first one is kept."
    )
    gaps: list[Gap] = Field(default_factory=list)


# -- inbound: the cloud to the store -------------------------------------------------------

ProductT = TypeVar("ProductT")
PriceT = TypeVar("PriceT")
PickupT = TypeVar("PickupT")
LoyaltyT = TypeVar("LoyaltyT")
StockT = TypeVar("StockT")


class InboundItems(Body, Generic[ProductT, PriceT, PickupT, LoyaltyT, StockT]):
    """What a cloud publishes for a store, any subset of the kinds, each a list: the
    fields' order is the order the store applies them (products before their prices
    and pickups).  Each end says what an item is: the store its domain models, a cloud
    plain objects."""

    products: list[ProductT] = Field(default_factory=list, max_length=MAX_INBOUND_ITEMS)
    prices: list[PriceT] = Field(default_factory=list, max_length=MAX_INBOUND_ITEMS)
    pickups: list[PickupT] = Field(default_factory=list, max_length=MAX_INBOUND_ITEMS)
    loyalty: list[LoyaltyT] = Field(default_factory=list, max_length=MAX_INBOUND_ITEMS)
    stock_elsewhere: list[StockT] = Field(default_factory=list, max_length=MAX_INBOUND_ITEMS)


#: What a store fetches from its cloud, in the order it applies them.
INBOUND_KINDS: tuple[str, ...] = tuple(InboundItems.model_fields)

#: ``POST /v1/admin/stores/{store}/inbound``: items as a cloud holds them, JSON objects it passes on.
PublishedItems = InboundItems[Item, Item, Item, Item, Item]


class InboundPage(InboundItems[Any, Any, Any, Any, Any]):
    """``GET /v1/stores/{store}/inbound``: the items published after a cursor, exactly as
    published (the store reads each one, and reports those it cannot), and the new cursor.
    A kind the store does not know is kept, for it to report."""

    model_config = ConfigDict(extra="allow")

    cursor: int = Field(ge=0, description="Ask with after=cursor next time.")

    @property
    def items(self) -> int:
        return sum(len(getattr(self, kind)) for kind in INBOUND_KINDS)
