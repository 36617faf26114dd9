"""The transactional outbox (DESIGN.md, Replication): every store change writes its
event in the same transaction, numbered with a ``seq`` that has no gaps.

The numbers come from ``outbox_state.last_seq``, bumped inside the writer's
``BEGIN IMMEDIATE`` transaction: two writers can never take the same number, and a
rolled-back change gives its number back.  ``acked_seq`` is how far the cloud has
acknowledged (the pull feed's ``ack``, or the push sender).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session
from uuid6 import uuid7

from hub.store.models import OutboxEvent, OutboxState

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended; ``seq`` and ``event_id`` are given on append."""

    type: str
    data: dict[str, Any]
    client: str | None = None
    device: str | None = None
    occurred_at: float = field(default_factory=time.time)


def dump(value: Any) -> str:
    """The JSON the store keeps: compact, key-sorted, Cyrillic left readable.

    orjson, because encoding the event is most of what an append costs."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_plain).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def rfc3339(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


NEXT_SEQS = (
    update(OutboxState.__table__)  # type: ignore[attr-defined]
    .where(OutboxState.__table__.c.id == 1)  # type: ignore[attr-defined]
    .values(last_seq=OutboxState.__table__.c.last_seq + bindparam("n"))  # type: ignore[attr-defined]
    .returning(OutboxState.__table__.c.last_seq)  # type: ignore[attr-defined]
)
INSERT_EVENTS = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]


def append_events(*, session: Session, events: list[NewEvent]) -> list[int]:
    """Append ``events`` in order; returns their seqs.  Commits with the caller's transaction."""
    if not events:
        return []
    # Core statements on the session's connection: the ORM's bulk-update machinery costs
    # more than the whole append.
    connection = session.connection()
    last = connection.execute(NEXT_SEQS, {"n": len(events)}).scalar_one()
    first = last - len(events) + 1
    rows = [
        {
            "seq": first + i,
            "event_id": str(uuid7()),
            "type": event.type,
            "occurred_at": rfc3339(event.occurred_at),
            "source_client": event.client,
            "source_device": event.device,
            "schema_version": SCHEMA_VERSION,
            "data": dump(event.data),
        }
        for i, event in enumerate(events)
    ]
    connection.execute(INSERT_EVENTS, rows)
    return list(range(first, last + 1))


def append_event(*, session: Session, event: NewEvent) -> int:
    return append_events(session=session, events=[event])[0]


def outbox_position(*, session: Session) -> OutboxState:
    # populate_existing: appends bump last_seq with a Core statement, behind the ORM's back.
    return session.execute(
        select(OutboxState).where(OutboxState.id == 1).execution_options(populate_existing=True)
    ).scalar_one()


def acknowledge(*, session: Session, upto_seq: int, now: float) -> tuple[int, bool]:
    """Mark events up to ``upto_seq`` delivered.  Returns the acknowledged seq and whether
    it moved: an older acknowledgement (a retry, a second puller) changes nothing."""
    state = outbox_position(session=session)
    if upto_seq <= state.acked_seq:
        return state.acked_seq, False
    state.acked_seq = upto_seq
    state.acked_at = now
    session.add(state)
    return upto_seq, True


FEED_COLUMNS = (
    OutboxEvent.seq,
    OutboxEvent.event_id,
    OutboxEvent.type,
    OutboxEvent.occurred_at,
    OutboxEvent.source_client,
    OutboxEvent.source_device,
    OutboxEvent.schema_version,
    OutboxEvent.data,
)


def encoded_events_after(*, session: Session, after: int, limit: int, store_id: str) -> tuple[list[int], bytes]:
    """Up to ``limit`` events after ``after`` as one JSON array (DESIGN.md's shape), and
    their seqs.  Each event's data is stored as JSON already and goes out as it is."""
    rows = session.execute(
        select(*FEED_COLUMNS).where(OutboxEvent.seq > after).order_by(OutboxEvent.seq).limit(limit)
    ).all()
    documents = [
        {
            "event_id": event_id,
            "store_id": store_id,
            "seq": seq,
            "type": kind,
            "occurred_at": occurred_at,
            "source": {"client": client, "device": device},
            "schema": schema,
            "data": orjson.Fragment(data),
        }
        for seq, event_id, kind, occurred_at, client, device, schema, data in rows
    ]
    return [row[0] for row in rows], orjson.dumps(documents)


def oldest_undelivered(*, session: Session, acked_seq: int) -> float | None:
    """When the first event the cloud lacks happened (epoch seconds)."""
    moment = session.execute(
        select(OutboxEvent.occurred_at).where(OutboxEvent.seq > acked_seq).order_by(OutboxEvent.seq).limit(1)
    ).scalar_one_or_none()
    return None if moment is None else dt.datetime.fromisoformat(moment).timestamp()


def prune_delivered(*, session: Session, occurred_before: float, limit: int) -> int:
    """Delete up to ``limit`` of the oldest events that are delivered and happened before
    ``occurred_before``.  An undelivered event is never touched, however old."""
    acked = outbox_position(session=session).acked_seq
    doomed = (
        select(OutboxEvent.seq)
        .where(OutboxEvent.seq <= acked, OutboxEvent.occurred_at < rfc3339(occurred_before))
        .order_by(OutboxEvent.seq)
        .limit(limit)
    )
    table = OutboxEvent.__table__  # type: ignore[attr-defined]
    result = session.connection().execute(table.delete().where(table.c.seq.in_(doomed.scalar_subquery())))
    return result.rowcount


def set_inbound_cursor(*, session: Session, cursor: int) -> None:
    state = outbox_position(session=session)
    state.inbound_cursor = cursor
    session.add(state)
