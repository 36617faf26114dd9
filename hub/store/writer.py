"""The store domain's one writer: a thread that runs writes in batched transactions.

Tills, the REST API, the bus and the receipt feed all hand their writes here.  The
thread takes whatever is waiting (up to ``MAX_BATCH``), runs each write in its own
savepoint inside one ``BEGIN IMMEDIATE`` transaction, and commits once: with
``synchronous=FULL`` the commit's fsync is the cost, and a busy checkout shares it.
A write that fails undoes only itself (the batch runs again with a savepoint per
write); its caller gets the exception.
One thread also means checks and writes never interleave: two tills redeeming on one
card are served one after the other, so neither can spend what the other just did.

Room (``hub.store.room``): an ordinary batch runs only while the database has more
room than the upkeep reserve, else every write in it hears ``storage_full``.  Upkeep
writes — the delivery mark and pruning, which make room — run in transactions of
their own, may use the reserve, and are followed by a WAL checkpoint while room is
short, so what they freed is really free.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from hub.db import checkpoint
from hub.store.errors import is_storage_full, storage_full
from hub.store.room import TIGHT_DISK_BYTES, WAL_HEADROOM_BYTES, DatabaseRoom, Room

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Writes committed together at most.  Bounds how long one transaction holds the
#: database's write lock (a few milliseconds) while still sharing the fsync widely.
MAX_BATCH = 512

Work = Callable[[Session], Any]


@dataclass(slots=True)
class _Write:
    work: Work
    future: Future[Any]
    #: A write that makes room (delivery mark, pruning): never refused for want of it.
    upkeep: bool = False


class _NoRoom(Exception):
    """Inside the writer: the batch was not run, the database is too full."""

    def __init__(self, room: Room) -> None:
        super().__init__(f"{room.left} bytes left")
        self.room = room


class WriterStopped(RuntimeError):
    pass


class StoreWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        on_commit: Callable[[], None] | None = None,
        max_batch: int = MAX_BATCH,
        room: DatabaseRoom | None = None,
    ) -> None:
        self._engine = engine
        self._room = room
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._inbox: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.commits = 0
        self.writes = 0
        #: The last batch was refused, or failed, because the database could not grow.
        self.storage_full = False

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="store-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop."""
        if self._thread is not None:
            self._stopping = True
            self._inbox.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, work: Callable[[Session], T], *, upkeep: bool = False) -> Future[T]:
        """``upkeep``: a write that makes room (the delivery mark, pruning), run even when
        the database is too full for ordinary writes."""
        future: Future[T] = Future()
        if self._thread is None or self._stopping:
            future.set_exception(WriterStopped("the store is not accepting writes (the hub is stopping)"))
            return future
        self._inbox.put(_Write(work, future, upkeep))
        return future

    async def run(self, work: Callable[[Session], T], *, upkeep: bool = False) -> T:
        return await asyncio.wrap_future(self.submit(work, upkeep=upkeep))

    def run_sync(self, work: Callable[[Session], T]) -> T:
        return self.submit(work).result()

    # -- the thread ------------------------------------------------------------------

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._inbox.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            # Upkeep in a transaction of its own: an ordinary write refused or failing at
            # commit for want of room must not take a delivery mark down with it.
            upkeep = [write for write in batch if write.upkeep]
            if upkeep:
                self._commit(upkeep, upkeep=True)
            if len(upkeep) < len(batch):
                self._commit([write for write in batch if not write.upkeep])
        # A write that slipped in behind the stop marker is answered, not left waiting.
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _answer(item.future, error=WriterStopped("the store stopped before this write ran"))

    def _run(
        self, batch: list[_Write], *, savepoints: bool, check_room: bool = False, checkpointed: bool = False
    ) -> list[tuple[bool, Any]]:
        """Run ``batch`` in one transaction and commit it, unless a write failed and this
        run had no savepoints to keep the others (then roll back: the caller runs again).
        ``check_room``: first make sure the upkeep reserve stays free, and, unless just
        ``checkpointed``, that the WAL has disk to grow into (``_NoRoom``)."""
        outcomes: list[tuple[bool, Any]] = []
        with Session(self._engine, expire_on_commit=False) as session:
            if check_room and self._room is not None and not self._room.surely_plenty():
                # Measured inside the transaction: its write lock is taken, nothing grows meanwhile.
                room = self._room.measure(session.connection())
                cramped = room.wal > 0 and room.disk_free < WAL_HEADROOM_BYTES
                if not self._room.enough_for_writes(room) or (cramped and not checkpointed):
                    raise _NoRoom(room)
            for write in batch:
                savepoint = session.begin_nested() if savepoints else None
                try:
                    result = write.work(session)
                    # Flushed here, so that what the database refuses is this write's
                    # failure, not the whole batch's at commit.
                    session.flush()
                    if savepoint is not None:
                        savepoint.commit()
                    outcomes.append((True, result))
                except Exception as exc:  # the caller's to handle
                    if savepoint is None:
                        session.rollback()
                        return outcomes + [(False, exc)]
                    savepoint.rollback()
                    outcomes.append((False, exc))
            session.commit()
        self.commits += 1
        self.writes += len(batch)
        return outcomes

    def _commit(self, batch: list[_Write], *, upkeep: bool = False) -> None:
        # Most batches fail nowhere: run them plainly in one transaction.  Only when a write
        # refuses (insufficient balance, unknown product…) is the batch run again with a
        # savepoint per write, so that one write's refusal undoes nothing of the others.
        try:
            try:
                outcomes = self._run(batch, savepoints=False, check_room=not upkeep)
            except _NoRoom as short:
                # The WAL may hold the difference: checkpointed and truncated, it is room again.
                if not short.room.wal or not checkpoint(self._engine):
                    raise
                outcomes = self._run(batch, savepoints=False, check_room=True, checkpointed=True)
            if len(batch) > 1 and not all(ok for ok, _ in outcomes):
                outcomes = self._run(batch, savepoints=True)
        except _NoRoom:
            self._out_of_space(len(batch))
            for write in batch:
                _answer(write.future, error=storage_full())
            return
        except Exception as exc:
            # The commit itself failed (say, the disk is full): nothing of the batch is
            # on disk, and every caller hears so.
            if is_storage_full(exc):
                self._out_of_space(len(batch))
                exc = storage_full()
                # What the failed commit wrote into the WAL is given back, so the next
                # write (the caller's retry) does not meet the same full disk.
                checkpoint(self._engine)
            else:
                log.exception("store commit of %d writes failed", len(batch))
            for write in batch:
                _answer(write.future, error=exc)
            return
        finally:
            if upkeep:
                self._give_back_room()
        full = [value for ok, value in outcomes if not ok and is_storage_full(value)]
        if full:
            self._out_of_space(len(full))
        elif self.storage_full and not upkeep:
            self._room_again()
        for write, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                _answer(write.future, result=value)
            else:
                _answer(write.future, error=storage_full() if is_storage_full(value) else value)
        if self._on_commit is not None:
            try:
                self._on_commit()
            except Exception:
                log.exception("after-commit notice failed")

    def _give_back_room(self) -> None:
        """After a delivery mark or a prune, while room is short: the WAL into the file and
        truncated, so the pages a prune freed are reusable and the WAL's own space is free."""
        if self._room is None:
            return
        try:
            room = self._room.measure()
            tight = room.disk_free < TIGHT_DISK_BYTES or not self._room.enough_for_a_sale(room)
            if room.wal and tight and checkpoint(self._engine):
                room = self._room.measure()
            # No ordinary write may come to clear the flag (tills are told the store is
            # full): the room the upkeep made does.
            if self.storage_full and self._room.enough_for_writes(room):
                self._room_again()
        except Exception:
            log.exception("making room after upkeep failed")

    def _room_again(self) -> None:
        self.storage_full = False
        log.warning("the store's database takes writes again")

    def _out_of_space(self, writes: int) -> None:
        self.storage_full = True
        log.critical("%d store writes refused: the database cannot grow (disk full, or its size cap)", writes)


def _answer(future: Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    """Tell the caller, unless it stopped listening (its task was cancelled): the write
    stands either way, and the writer goes on serving the others."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled between the check and the answer
        pass
