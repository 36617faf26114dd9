"""The store domain's one writer: a thread that runs writes in batched transactions.

Tills, the REST API, the bus and the receipt feed all hand their writes here.  The
thread takes whatever is waiting (up to ``MAX_BATCH``), runs each write in its own
savepoint inside one ``BEGIN IMMEDIATE`` transaction, and commits once: with
``synchronous=FULL`` the commit's fsync is the cost, and a busy checkout shares it.
A write that fails undoes only itself (the batch runs again with a savepoint per
write); its caller gets the exception.
One thread also means checks and writes never interleave: two tills redeeming on one
card are served one after the other, so neither can spend what the other just did.
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

from hub.store.errors import is_storage_full, storage_full

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


class WriterStopped(RuntimeError):
    pass


class StoreWriter:
    def __init__(
        self, engine: Engine, *, on_commit: Callable[[], None] | None = None, max_batch: int = MAX_BATCH
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._inbox: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.commits = 0
        self.writes = 0
        #: The last batch failed because the database could not grow.
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

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        future: Future[T] = Future()
        if self._thread is None or self._stopping:
            future.set_exception(WriterStopped("the store is not accepting writes (the hub is stopping)"))
            return future
        self._inbox.put(_Write(work, future))
        return future

    async def run(self, work: Callable[[Session], T]) -> T:
        return await asyncio.wrap_future(self.submit(work))

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
            self._commit(batch)
        # A write that slipped in behind the stop marker is answered, not left waiting.
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _answer(item.future, error=WriterStopped("the store stopped before this write ran"))

    def _run(self, batch: list[_Write], *, savepoints: bool) -> list[tuple[bool, Any]]:
        """Run ``batch`` in one transaction and commit it, unless a write failed and this
        run had no savepoints to keep the others (then roll back: the caller runs again)."""
        outcomes: list[tuple[bool, Any]] = []
        with Session(self._engine, expire_on_commit=False) as session:
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

    def _commit(self, batch: list[_Write]) -> None:
        # Most batches fail nowhere: run them plainly in one transaction.  Only when a write
        # refuses (insufficient balance, unknown product…) is the batch run again with a
        # savepoint per write, so that one write's refusal undoes nothing of the others.
        try:
            outcomes = self._run(batch, savepoints=False)
            if len(batch) > 1 and not all(ok for ok, _ in outcomes):
                outcomes = self._run(batch, savepoints=True)
        except Exception as exc:
            # The commit itself failed (say, the disk is full): nothing of the batch is
            # on disk, and every caller hears so.
            if is_storage_full(exc):
                self._out_of_space(len(batch))
                exc = storage_full()
            else:
                log.exception("store commit of %d writes failed", len(batch))
            for write in batch:
                _answer(write.future, error=exc)
            return
        full = [value for ok, value in outcomes if not ok and is_storage_full(value)]
        if full:
            self._out_of_space(len(full))
        elif self.storage_full:
            self.storage_full = False
            log.warning("the store's database takes writes again")
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
