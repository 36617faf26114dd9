"""The reference cloud's ledger: SQLite through SQLAlchemy Core.  Only this module touches SQL.

The cloud is the system of record for what the stores sent, so every connection runs in
WAL mode with ``synchronous=FULL``: a batch the cloud has answered survives a power cut.
Connections are set up by ``cloud_link.sqlite``, as the hub's are: writers begin with
``BEGIN IMMEDIATE`` (the write lock up front, never "database is locked" half-way);
readers use their own engine with deferred transactions on ``query_only`` connections,
so a store asking for its position never queues behind a batch.

A batch is one transaction whatever its size: one range query for the seqs already held,
one ``executemany`` of the new events, one indexed walk up from the old contiguous seq.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert

from cloud_link.contract import INBOUND_KINDS, MAX_GAPS_SHOWN, MAX_SERIAL, BatchReceipt, Gap, Position
from cloud_link.reference.intake import ReceivedEvent
from cloud_link.reference.schemas import Published, StoreSummary
from cloud_link.sqlite import sqlite_engine

log = logging.getLogger("storehub.cloud")

#: How long a writer waits for another writer's lock before giving up.
BUSY_TIMEOUT_MS = 5_000

#: Published kinds that carry a version the cloud assigns when it is missing, and the field naming the item.
VERSIONED_KINDS = {"products": "sku", "prices": "sku", "pickups": "id"}

metadata = MetaData()

stores = Table(
    "stores",
    metadata,
    Column("store_id", Text, primary_key=True),
    Column("contiguous_seq", Integer, nullable=False, default=0),
    Column("high_water_seq", Integer, nullable=False, default=0),
    Column("head_seq", Integer, nullable=False, default=0),
    Column("events", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("conflicts", Integer, nullable=False, default=0),
    Column("batches", Integer, nullable=False, default=0),
    Column("retries", Integer, nullable=False, default=0),
    Column("last_batch_at", Text),
    Column("published", Integer, nullable=False, default=0),
)

events = Table(
    "events",
    metadata,
    Column("store_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("document", Text, nullable=False),
    PrimaryKeyConstraint("store_id", "seq"),
)

batches = Table(
    "batches",
    metadata,
    Column("store_id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("events", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
    Column("received_at", Text, nullable=False),
    Column("retries", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("store_id", "idempotency_key"),
)

publications = Table(
    "publications",
    metadata,
    # AUTOINCREMENT: a cursor a store holds is never handed out again.
    Column("pub_seq", Integer, primary_key=True),
    Column("store_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("item_key", Text),
    Column("version", Integer),
    Column("body", Text, nullable=False),
    Column("published_at", Text, nullable=False),
    Index("publications_by_store", "store_id", "pub_seq"),
    Index("publications_by_item", "store_id", "kind", "item_key"),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class CloudDatabase:
    writer: Engine
    reader: Engine

    def close(self) -> None:
        self.writer.dispose()
        self.reader.dispose()


def open_database(path: Path) -> CloudDatabase:
    writer = _engine(path, readonly=False)
    metadata.create_all(writer)
    return CloudDatabase(writer=writer, reader=_engine(path, readonly=True))


def _engine(path: Path, *, readonly: bool) -> Engine:
    return sqlite_engine(path, readonly=readonly, synchronous="FULL", busy_timeout_ms=BUSY_TIMEOUT_MS)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- stores --------------------------------------------------------------------------------


def ensure_stores(*, db: CloudDatabase, store_ids: Iterable[str]) -> None:
    rows = [{"store_id": store_id} for store_id in store_ids]
    if rows:
        with db.writer.begin() as conn:
            conn.execute(insert(stores).on_conflict_do_nothing(), rows)


def store_summaries(*, db: CloudDatabase, names: Mapping[str, str]) -> list[StoreSummary]:
    """Every store in ``names`` (the configured ones) and any other the ledger holds events of."""
    with db.reader.begin() as conn:
        rows = {row.store_id: row for row in conn.execute(select(stores).order_by(stores.c.store_id))}
        summaries = []
        for store_id in sorted(names.keys() | rows.keys()):
            row = rows.get(store_id)
            gaps = _gaps(conn, store_id, row.contiguous_seq, row.high_water_seq) if row is not None else []
            summaries.append(_summary(store_id, names.get(store_id, ""), row, gaps))
        return summaries


#: The counters a store's summary shows as the ledger keeps them.
SUMMARY_COUNTS = (
    "events", "contiguous_seq", "high_water_seq", "head_seq", "duplicates", "conflicts", "batches", "retries", "published"
)  # fmt: skip


def _summary(store_id: str, name: str, row: Any, gaps: list[Gap]) -> StoreSummary:
    counts = {column: getattr(row, column) if row is not None else 0 for column in SUMMARY_COUNTS}
    last_batch_at = row.last_batch_at if row is not None else None
    return StoreSummary(
        store_id=store_id,
        name=name,
        lag=max(0, counts["head_seq"] - counts["contiguous_seq"]),
        gaps=gaps,
        last_batch_at=dt.datetime.fromisoformat(last_batch_at) if last_batch_at else None,
        **counts,
    )


def position(*, db: CloudDatabase, store_id: str) -> Position:
    with db.reader.begin() as conn:
        row = conn.execute(
            select(stores.c.contiguous_seq, stores.c.high_water_seq).where(stores.c.store_id == store_id)
        ).one_or_none()
        if row is None:
            return Position(store_id=store_id, contiguous_seq=0, high_water_seq=0, gaps=[])
        return Position(
            store_id=store_id,
            contiguous_seq=row.contiguous_seq,
            high_water_seq=row.high_water_seq,
            gaps=_gaps(conn, store_id, row.contiguous_seq, row.high_water_seq),
        )


def _gaps(conn: Connection, store_id: str, contiguous_seq: int, high_water_seq: int) -> list[Gap]:
    """The missing ranges above contiguous_seq: held seqs whose predecessor is not held."""
    if high_water_seq <= contiguous_seq:
        return []
    held = (
        select(
            events.c.seq,
            func.lag(events.c.seq, 1, contiguous_seq).over(order_by=events.c.seq).label("previous"),
        )
        .where(events.c.store_id == store_id, events.c.seq > contiguous_seq)
        .subquery()
    )
    query = (
        select(held.c.previous + 1, held.c.seq - 1)
        .where(held.c.seq > held.c.previous + 1)
        .order_by(held.c.seq)
        .limit(MAX_GAPS_SHOWN)
    )
    return [(first, last) for first, last in conn.execute(query)]


# -- events --------------------------------------------------------------------------------


def ingest_batch(
    *,
    db: CloudDatabase,
    store_id: str,
    idempotency_key: str,
    received: Sequence[ReceivedEvent],
    head_seq: int,
    now: dt.datetime,
) -> BatchReceipt:
    """Hold every event of a batch once, in one transaction, and say how far the store is safe.

    An event whose event_id is held already is a duplicate.  One whose seq is held under
    another event_id (or whose event_id is held under another seq) is a conflict: the
    first is kept, the newcomer counted and logged.
    """
    seqs = [event.seq for event in received]
    with db.writer.begin() as conn:
        conn.execute(insert(stores).values(store_id=store_id).on_conflict_do_nothing())
        before = conn.execute(select(stores).where(stores.c.store_id == store_id)).one()
        holders = dict(
            conn.execute(
                select(events.c.seq, events.c.event_id).where(
                    events.c.store_id == store_id, events.c.seq.between(min(seqs), max(seqs))
                )
            ).all()
        )
        new: list[dict[str, Any]] = []
        duplicates, conflicting = 0, []
        for event_ in received:
            holder = holders.get(event_.seq)
            if holder is None:
                holders[event_.seq] = event_.event_id
                new.append(
                    {"store_id": store_id, "seq": event_.seq, "event_id": event_.event_id, "document": event_.document}
                )
            elif holder == event_.event_id:
                duplicates += 1
            else:
                conflicting.append(event_.seq)
        accepted = conn.execute(insert(events).on_conflict_do_nothing(), new).rowcount if new else 0
        # What was new by seq but not inserted carries an event_id held under another seq.
        misplaced = len(new) - accepted
        conflicts = len(conflicting) + misplaced

        contiguous = before.contiguous_seq
        with conn.execute(
            select(events.c.seq).where(events.c.store_id == store_id, events.c.seq > contiguous).order_by(events.c.seq)
        ) as held:
            for (seq,) in held:
                if seq != contiguous + 1:
                    break
                contiguous = seq
        high_water = conn.execute(select(func.max(events.c.seq)).where(events.c.store_id == store_id)).scalar() or 0

        received_at = rfc3339(now)
        record = insert(batches).values(
            store_id=store_id,
            idempotency_key=idempotency_key,
            first_seq=min(seqs),
            last_seq=max(seqs),
            events=len(received),
            accepted=accepted,
            duplicates=duplicates,
            conflicts=conflicts,
            received_at=received_at,
            retries=0,
        )
        retries = conn.execute(
            record.on_conflict_do_update(
                index_elements=[batches.c.store_id, batches.c.idempotency_key],
                set_={
                    "retries": batches.c.retries + 1,
                    "accepted": batches.c.accepted + record.excluded.accepted,
                    "duplicates": batches.c.duplicates + record.excluded.duplicates,
                    "conflicts": batches.c.conflicts + record.excluded.conflicts,
                },
            ).returning(batches.c.retries)
        ).scalar_one()
        conn.execute(
            update(stores)
            .where(stores.c.store_id == store_id)
            .values(
                contiguous_seq=contiguous,
                high_water_seq=high_water,
                head_seq=func.max(stores.c.head_seq, head_seq),
                events=stores.c.events + accepted,
                duplicates=stores.c.duplicates + duplicates,
                conflicts=stores.c.conflicts + conflicts,
                batches=stores.c.batches + (1 if retries == 0 else 0),
                retries=stores.c.retries + (1 if retries else 0),
                last_batch_at=received_at,
            )
        )
        gaps = _gaps(conn, store_id, contiguous, high_water)
    if conflicts:
        log.warning(
            "%s: %d events conflict with held ones (the first is kept): seqs %s%s",
            store_id,
            conflicts,
            ", ".join(map(str, conflicting[:10])) or "-",
            f", and {misplaced} event_ids held under other seqs" if misplaced else "",
        )
    return BatchReceipt(
        contiguous_seq=contiguous,
        high_water_seq=high_water,
        accepted=accepted,
        duplicates=duplicates,
        conflicts=conflicts,
        gaps=gaps,
    )


def record_head(*, db: CloudDatabase, store_id: str, head_seq: int) -> None:
    """The store's newest seq as its feed reported it, when a pull brought nothing new."""
    with db.writer.begin() as conn:
        conn.execute(insert(stores).values(store_id=store_id).on_conflict_do_nothing())
        conn.execute(
            update(stores).where(stores.c.store_id == store_id).values(head_seq=func.max(stores.c.head_seq, head_seq))
        )


def event_documents(*, db: CloudDatabase, store_id: str, after: int, limit: int) -> list[str]:
    """The events held for a store after a seq, in seq order, as received."""
    with db.reader.begin() as conn:
        return list(
            conn.execute(
                select(events.c.document)
                .where(events.c.store_id == store_id, events.c.seq > after)
                .order_by(events.c.seq)
                .limit(limit)
            ).scalars()
        )


# -- inbound publications ------------------------------------------------------------------


def publish(
    *, db: CloudDatabase, store_id: str, items: Mapping[str, list[dict[str, Any]]], now: dt.datetime
) -> Published:
    """Publish items for a store, each kind in order; give products, prices and pickups a version if they lack one.

    An assigned version is ``max(the last version published for that item + 1, now in ms)``:
    newer than anything the store has seen from this cloud, and still newer after a restart.
    """
    now_ms = int(now.timestamp() * 1000)
    published_at = rfc3339(now)
    with db.writer.begin() as conn:
        conn.execute(insert(stores).values(store_id=store_id).on_conflict_do_nothing())
        rows = []
        for kind in INBOUND_KINDS:
            batch = items.get(kind) or []
            key_field = VERSIONED_KINDS.get(kind)
            latest = _latest_versions(conn, store_id, kind, key_field, batch) if key_field and batch else {}
            for item in batch:
                key = item.get(key_field) if key_field else None
                key = key if isinstance(key, str) else None
                if key_field and "version" not in item:
                    item = {**item, "version": max(latest.get(key, 0) + 1, now_ms)}
                version = item.get("version")
                version = version if type(version) is int and 0 <= version <= MAX_SERIAL else None
                if key is not None and version is not None:
                    latest[key] = max(latest.get(key, version), version)
                rows.append(
                    {
                        "store_id": store_id,
                        "kind": kind,
                        "item_key": key,
                        "version": version,
                        "body": orjson.dumps(item).decode(),
                        "published_at": published_at,
                    }
                )
        if rows:
            conn.execute(publications.insert(), rows)
            conn.execute(
                update(stores).where(stores.c.store_id == store_id).values(published=stores.c.published + len(rows))
            )
        cursor = conn.execute(
            select(func.max(publications.c.pub_seq)).where(publications.c.store_id == store_id)
        ).scalar()
    return Published(published=len(rows), cursor=cursor or 0)


def _latest_versions(
    conn: Connection, store_id: str, kind: str, key_field: str, batch: list[dict[str, Any]]
) -> dict[str | None, int]:
    keys = {item.get(key_field) for item in batch if isinstance(item.get(key_field), str)}
    if not keys:
        return {}
    return dict(
        conn.execute(
            select(publications.c.item_key, func.max(publications.c.version))
            .where(
                publications.c.store_id == store_id,
                publications.c.kind == kind,
                publications.c.item_key.in_(keys),
                publications.c.version.is_not(None),
            )
            .group_by(publications.c.item_key)
        ).all()
    )


def publications_after(*, db: CloudDatabase, store_id: str, after: int, limit: int) -> list[tuple[int, str, str]]:
    """``(pub_seq, kind, body)`` of a store's publications after a cursor, in publication order."""
    with db.reader.begin() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(publications.c.pub_seq, publications.c.kind, publications.c.body)
                .where(publications.c.store_id == store_id, publications.c.pub_seq > after)
                .order_by(publications.c.pub_seq)
                .limit(limit)
            )
        ]
