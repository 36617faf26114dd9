"""What the link needs of the store: the outbox, seen through a narrow door.

``cloud_link`` knows nothing of the hub's tables.  The hub hands it an object with
these methods (``hub.sync.HubOutbox``); a test can hand it another.  Blocking methods
read the database and are called from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Consecutive events, already encoded: ``events_json`` is a JSON array of event
    documents (``cloud_link.contract.Event``), seqs ``first_seq..last_seq`` without a
    hole.  The pusher sends it as the contract's ``EventBatch`` without decoding it."""

    first_seq: int
    last_seq: int
    count: int
    events_json: bytes
    #: The newest seq in the outbox when the batch was read (the cloud shows the lag).
    head_seq: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    last_seq: int
    #: Everything up to here is in the cloud (pushed and answered, or pulled and acked).
    delivered_seq: int
    #: ``occurred_at`` of the first undelivered event (epoch seconds), None when none.
    oldest_undelivered_at: float | None
    #: What the database takes on the disk: its pages in use (free pages not), WAL and shm.
    bytes_used: int
    #: What it may take: that, and what it may still grow by within its cap and on the disk.
    bytes_allowed: int
    #: Too full for a sale: a write was refused, or the room left is the upkeep reserve's.
    storage_full: bool
    inbound_cursor: int

    @property
    def backlog(self) -> int:
        return max(0, self.last_seq - self.delivered_seq)


class StoreOutbox(Protocol):
    store_id: str

    def read_batch(self, *, after: int, limit: int) -> EncodedBatch | None:
        """Blocking: up to ``limit`` events after seq ``after``; None when there are none."""
        ...

    def stats(self) -> OutboxStats:
        """Blocking: where the outbox stands."""
        ...

    async def mark_delivered(self, upto_seq: int) -> int:
        """Everything up to ``upto_seq`` is in the cloud; returns the delivered seq (never lower)."""
        ...

    async def wait_for_events(self, timeout: float) -> None:
        """Returns when new events may have committed, or after ``timeout`` seconds."""
        ...

    def commits(self) -> int:
        """How many transactions the store has committed so far (for ``wait_for_commit``)."""
        ...

    async def wait_for_commit(self, timeout: float, *, since: int) -> None:
        """Returns once the store has committed more than ``since`` transactions (an event
        written, a delivery marked) — at once if it already has — or after ``timeout``."""
        ...

    async def apply_inbound(self, page: dict[str, Any], cursor: int) -> dict[str, Any]:
        """Apply what the cloud sent, and remember ``cursor`` in the same transaction.
        Returns a report (``applied``, ``pending``, ``ignored``)."""
        ...

    async def prune_delivered(self, *, occurred_before: float, limit: int) -> int:
        """Delete up to ``limit`` delivered events older than ``occurred_before``; never an undelivered one."""
        ...
