"""What crosses the reference cloud's HTTP boundary, as pydantic models, and the limits on it.

The event and batch shapes are the store hub's (docs/store.md, docs/cloud.md).  Inbound
items are plain JSON objects here: the store validates them, the cloud passes them on.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict

from cloud_link.reference.config import STORE_ID_PATTERN

#: Seqs, versions and cursors stay below this, as in the hub, so they fit SQLite's 64-bit integers.
MAX_SERIAL = 2**62

#: A batch holds at most this many events: a backlog drains in ~1,000s, and 5,000 keeps one transaction short.
MAX_BATCH_EVENTS = 5_000

#: A request body may grow to this much once decompressed; beyond it is a mistake or a gzip bomb.
MAX_BODY_BYTES = 16 * 1024 * 1024

#: An answer lists at most this many missing ranges: enough to act on, never a megabyte of gaps.
MAX_GAPS_SHOWN = 100

#: Inbound items per answer by default and at most: a page the store applies in one go.
DEFAULT_INBOUND_PAGE = 1_000
MAX_INBOUND_PAGE = 5_000

#: A store's inbound long poll waits at most this long, below common proxies' 60 s idle cut-off.
MAX_INBOUND_WAIT_S = 30.0

#: The admin's event listing returns at most this many per page.
DEFAULT_EVENTS_PAGE = 1_000
MAX_EVENTS_PAGE = 10_000

#: At most this many items of each kind per publication, as the hub's sync/inbound accepts.
MAX_PUBLISHED_ITEMS = 5_000

#: An injected delay is at most this long: long enough for any timeout test, short enough to end.
MAX_FAULT_DELAY_S = 600.0

#: What a store fetches from its cloud, in the order it applies them.
INBOUND_KINDS = ("products", "prices", "pickups", "loyalty", "stock_elsewhere")

StoreId = Annotated[str, StringConstraints(pattern=STORE_ID_PATTERN)]
Serial = Annotated[int, Field(ge=0, le=MAX_SERIAL)]


# Patterns, not Python validators: a 1,000-event batch is validated in ~2 ms this way, ~9 ms with callbacks.
Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")]
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)]
Name = Annotated[str, StringConstraints(max_length=128)]
Gap = tuple[int, int]
Item = dict[str, Any]


class Boundary(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- what the store sends ----------------------------------------------------------------


@with_config(ConfigDict(extra="forbid"))
class EventSource(TypedDict, total=False):
    """Who caused the event: a till or kiosk, and the device involved (a TypedDict: cheap per event)."""

    client: Name | None
    device: Name | None


class Event(Boundary):
    """One outbox event, as the store commits it.  Held by the cloud exactly as received."""

    event_id: Uuid = Field(description="Time-ordered UUID (v7); the cloud holds each event_id once.")
    store_id: StoreId
    seq: Annotated[int, Field(ge=1, le=MAX_SERIAL, description="Gapless per store, from 1.")]
    type: EventType = Field(examples=["sale.completed"])
    occurred_at: AwareDatetime
    source: EventSource
    schema_: int = Field(alias="schema", ge=1, le=1_000)
    data: dict[str, Any]


class EventBatch(Boundary):
    """``POST /v1/stores/{store}/events``: a seq range of the store's outbox."""

    store_id: StoreId
    first_seq: Annotated[int, Field(ge=1, le=MAX_SERIAL)]
    last_seq: Annotated[int, Field(ge=1, le=MAX_SERIAL)]
    head_seq: Serial = Field(description="The store's newest committed seq, for the lag.")
    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class Feed(BaseModel):
    """The hub's ``GET /api/v1/sync/events`` answer; fields it may add later are ignored."""

    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)
    last_seq: Serial
    acked_seq: Serial


# -- what the cloud answers a store --------------------------------------------------------


class Position(Boundary):
    store_id: str
    contiguous_seq: int = Field(description="Every seq from 1 to here is held: the store may treat it as safe.")
    high_water_seq: int = Field(description="The highest seq held.")
    gaps: list[Gap] = Field(description=f"Missing [first, last] ranges above contiguous_seq, at most {MAX_GAPS_SHOWN}.")


class BatchReceipt(Boundary):
    contiguous_seq: int
    high_water_seq: int
    accepted: int = Field(description="Events held for the first time.")
    duplicates: int = Field(description="Events held already (same event_id).")
    conflicts: int = Field(description="Events whose seq is held under another event_id; the first one is kept.")
    gaps: list[Gap]


class InboundPage(Boundary):
    cursor: int = Field(description="Ask with after=cursor next time.")
    products: list[Item]
    prices: list[Item]
    pickups: list[Item]
    loyalty: list[Item]
    stock_elsewhere: list[Item]


# -- the admin's side ----------------------------------------------------------------------


class InboundItems(Boundary):
    """``POST /v1/admin/stores/{store}/inbound``: any subset of the kinds, each a list of objects."""

    products: list[Item] = Field(default_factory=list, max_length=MAX_PUBLISHED_ITEMS)
    prices: list[Item] = Field(default_factory=list, max_length=MAX_PUBLISHED_ITEMS)
    pickups: list[Item] = Field(default_factory=list, max_length=MAX_PUBLISHED_ITEMS)
    loyalty: list[Item] = Field(default_factory=list, max_length=MAX_PUBLISHED_ITEMS)
    stock_elsewhere: list[Item] = Field(default_factory=list, max_length=MAX_PUBLISHED_ITEMS)


class Published(Boundary):
    published: int
    cursor: int = Field(description="The store's newest publication.")


PullState = Literal["starting", "following", "retrying", "paused", "stopped"]


class PullStatus(Boundary):
    url: str
    state: PullState
    last_error: str | None = None
    last_pull_at: dt.datetime | None = None


class StoreSummary(Boundary):
    store_id: str
    name: str = ""
    events: int = Field(description="Events held.")
    contiguous_seq: int
    high_water_seq: int
    head_seq: int = Field(description="The store's newest seq, as it last said (pushing) or its feed said (pulling).")
    lag: int = Field(description="head_seq - contiguous_seq, at least 0.")
    gaps: list[Gap]
    duplicates: int
    conflicts: int
    batches: int
    retries: int = Field(description="Batches that came again under an idempotency key already seen.")
    last_batch_at: dt.datetime | None
    published: int = Field(description="Inbound items published for this store.")
    pull: PullStatus | None = None


class StoreList(Boundary):
    stores: list[StoreSummary]


class FaultSettings(Boundary):
    """Ways to make the cloud slow, failing, lying or dying mid-batch, for tests and the demo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_s: float = Field(0.0, ge=0, le=MAX_FAULT_DELAY_S, description="Every store-facing answer waits this long.")
    fail_next: int = Field(0, ge=0, le=1_000_000, description="The next n store requests answer 500, doing nothing.")
    garbage_next: int = Field(
        0, ge=0, le=1_000_000, description="The next n store requests answer 200 with a body that is not JSON."
    )
    hang_after_commit_next: int = Field(
        0, ge=0, le=1_000_000, description="The next n event batches commit, then never answer."
    )


class FaultChange(Boundary):
    delay_s: float | None = Field(None, ge=0, le=MAX_FAULT_DELAY_S)
    fail_next: int | None = Field(None, ge=0, le=1_000_000)
    garbage_next: int | None = Field(None, ge=0, le=1_000_000)
    hang_after_commit_next: int | None = Field(None, ge=0, le=1_000_000)


class ErrorDetail(Boundary):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Boundary):
    error: ErrorDetail
