"""The device journal in SQLite (the contract: devices/journal.py).

Each call is one short ``BEGIN IMMEDIATE`` transaction on a database opened with
``synchronous=FULL``: when it returns, the line is on disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from devices.journal import JournalEntry, JournalState
from hub.db import checkpoint as checkpoint_wal
from hub.store.errors import is_storage_full, storage_full
from hub.store.models import DeviceJournalRow
from hub.store.room import DatabaseRoom

log = logging.getLogger(__name__)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _entry(row: DeviceJournalRow) -> JournalEntry:
    return JournalEntry(
        device_id=row.device_id,
        key=row.key,
        client=row.client,
        action=row.action,
        request=json.loads(row.request),
        state=JournalState(row.state),
        checkpoint=json.loads(row.checkpoint),
        result=json.loads(row.result) if row.result is not None else None,
        error=json.loads(row.error) if row.error is not None else None,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def begin_journal_entry(
    *, session: Session, device_id: str, key: str, client: str, action: str, request: dict[str, Any]
) -> tuple[JournalEntry, bool]:
    row = session.get(DeviceJournalRow, (device_id, key))
    moment = time.time()
    if row is not None and row.state != JournalState.VOID:
        return _entry(row), False
    if row is None:
        row = DeviceJournalRow(
            device_id=device_id, key=key, client=client, action=action, request=_dump(request),
            state=JournalState.STARTED, created_at=moment, updated_at=moment,
        )  # fmt: skip
    else:
        row.client, row.action, row.request = client, action, _dump(request)
        row.state, row.checkpoint, row.result, row.error = JournalState.STARTED, "{}", None, None
        row.attempts += 1
        row.updated_at = moment
    session.add(row)
    session.commit()
    session.refresh(row)
    return _entry(row), True


def update_journal_entry(
    *,
    session: Session,
    device_id: str,
    key: str,
    state: JournalState | None = None,
    progress: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    row = session.get(DeviceJournalRow, (device_id, key))
    if row is None:
        raise KeyError(f"no journal entry {key!r} for {device_id}")
    if progress:
        row.checkpoint = _dump(json.loads(row.checkpoint) | progress)
    if state is not None:
        row.state = state
    if result is not None:
        row.result = _dump(result)
    if error is not None:
        row.error = _dump(error)
    row.updated_at = time.time()
    session.add(row)
    session.commit()


def get_journal_entry(*, session: Session, device_id: str, key: str) -> JournalEntry | None:
    row = session.get(DeviceJournalRow, (device_id, key))
    return _entry(row) if row is not None else None


def unfinished_journal_entries(*, session: Session, device_id: str) -> list[JournalEntry]:
    rows = session.exec(
        select(DeviceJournalRow)
        .where(DeviceJournalRow.device_id == device_id, DeviceJournalRow.state == JournalState.STARTED)
        .order_by(DeviceJournalRow.created_at)
    )
    return [_entry(row) for row in rows]


class StoreDeviceJournal:
    """``DeviceJournal`` over the hub's database, a session per call."""

    def __init__(self, engine: Engine, room: DatabaseRoom | None = None) -> None:
        self._engine = engine
        self._room = room

    def begin(
        self, device_id: str, key: str, *, client: str, action: str, request: dict[str, Any]
    ) -> tuple[JournalEntry, bool]:
        if self._room is not None and not self._room_for_a_sale():
            existing = self.get(device_id, key)
            if existing is None or existing.state is JournalState.VOID:
                log.critical("%s: a new %s refused: the database has no room to record it", device_id, action)
                raise storage_full()
        with _space_checked(), Session(self._engine) as session:
            return begin_journal_entry(
                session=session, device_id=device_id, key=key, client=client, action=action, request=request
            )

    def _room_for_a_sale(self) -> bool:
        assert self._room is not None
        room = self._room.measure()
        if self._room.enough_for_a_sale(room):
            return True
        # The WAL may hold the difference (a prune's, say): checkpointed, it is room again.
        return bool(room.wal) and checkpoint_wal(self._engine) and self._room.enough_for_a_sale()

    def checkpoint(self, device_id: str, key: str, **progress: Any) -> None:
        self._update(device_id, key, progress=progress)

    def finish(self, device_id: str, key: str, result: dict[str, Any]) -> None:
        self._update(device_id, key, state=JournalState.DONE, result=result)

    def fail(self, device_id: str, key: str, error: dict[str, Any]) -> None:
        self._update(device_id, key, state=JournalState.FAILED, error=error)

    def void(self, device_id: str, key: str, reason: str) -> None:
        self._update(device_id, key, state=JournalState.VOID, progress={"void_reason": reason})

    def _update(self, device_id: str, key: str, **changes: Any) -> None:
        with _space_checked(), Session(self._engine) as session:
            update_journal_entry(session=session, device_id=device_id, key=key, **changes)

    def get(self, device_id: str, key: str) -> JournalEntry | None:
        with Session(self._engine) as session:
            return get_journal_entry(session=session, device_id=device_id, key=key)

    def unfinished(self, device_id: str) -> list[JournalEntry]:
        with Session(self._engine) as session:
            return unfinished_journal_entries(session=session, device_id=device_id)


@contextlib.contextmanager
def _space_checked() -> Iterator[None]:
    """A journal line the database has no room for is ``storage_full``: the money device
    refuses before it touches the device (the line is written first), and the till hears why."""
    try:
        yield
    except Exception as exc:
        if is_storage_full(exc):
            log.critical("the device journal cannot grow: the database is full")
            raise storage_full() from None
        raise
