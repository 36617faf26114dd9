"""The reference cloud's own bodies and limits: its admin's side, its faults, its refusals.

What a store and its cloud say to each other — events, batches, positions, inbound
pages and kinds — is ``cloud_link.contract``; this module adds what only this cloud says.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud_link.contract import Gap

#: A request body may grow to this much once decompressed; beyond it is a mistake or a gzip bomb.
MAX_BODY_BYTES = 16 * 1024 * 1024

#: Inbound items per answer by default and at most: a page the store applies in one go.
DEFAULT_INBOUND_PAGE = 1_000
MAX_INBOUND_PAGE = 5_000

#: A store's inbound long poll waits at most this long, below common proxies' 60 s idle cut-off.
MAX_INBOUND_WAIT_S = 30.0

#: The admin's event listing returns at most this many per page.
DEFAULT_EVENTS_PAGE = 1_000
MAX_EVENTS_PAGE = 10_000

#: An injected delay is at most this long: long enough for any timeout test, short enough to end.
MAX_FAULT_DELAY_S = 600.0


class Boundary(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the admin's side ----------------------------------------------------------------------


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
