"""The one writer: batches writes into shared transactions, answers every caller, and
says clearly when it no longer takes writes."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from bus.payloads import ErrorCode
from hub.store import outbox
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError
from hub.store.models import OutboxEvent
from hub.store.outbox import NewEvent
from hub.store.room import UPKEEP_RESERVE_BYTES, DatabaseRoom
from hub.store.schemas import AccrualCreate
from hub.store.writer import StoreWriter, WriterStopped
from tests.hub.store.support import CARD, Gate, outbox_rows


def append(n: int):
    return lambda s: outbox.append_event(session=s, event=NewEvent("test.write", {"n": n}))


@pytest.fixture
def writer(engines: tuple[Engine, Engine]):
    writer = StoreWriter(engines[0])
    writer.start()
    yield writer
    writer.stop()


async def test_many_concurrent_writes_share_fewer_transactions(domain: StoreDomain):
    commits, writes = domain.writer.commits, domain.writer.writes
    answers = await asyncio.gather(*(domain.accrue(CARD, AccrualCreate(points=1), f"till-{n % 3}") for n in range(200)))
    assert len({a["seq"] for a in answers}) == 200
    assert domain.writer.writes - writes == 200
    assert domain.writer.commits - commits < 200, "every write paid for a commit of its own"
    assert domain.balance(CARD).pending_accruals == 200


def test_writes_queued_behind_a_busy_writer_commit_together_up_to_the_batch_limit(engines: tuple[Engine, Engine]):
    writer = StoreWriter(engines[0], max_batch=10)
    writer.start()
    try:
        gate = Gate(writer)
        futures = [writer.submit(append(n)) for n in range(25)]
        gate.open()
        assert [f.result(5) for f in futures] == list(range(1, 26))
        assert (writer.commits, writer.writes) == (1 + 3, 1 + 25)  # the gate, then 10 + 10 + 5
    finally:
        writer.stop()


def test_run_sync_and_run_both_commit_and_answer(writer: StoreWriter, engines: tuple[Engine, Engine]):
    assert writer.run_sync(append(1)) == 1

    async def from_a_loop() -> int:
        return await writer.run(append(2))

    assert asyncio.run(from_a_loop()) == 2
    with Session(engines[1]) as session:  # the reader sees both, committed
        assert list(session.execute(select(OutboxEvent.seq).order_by(OutboxEvent.seq)).scalars()) == [1, 2]


def test_a_write_raising_reaches_its_caller_and_the_writer_goes_on(writer: StoreWriter):
    def broken(s: Session) -> None:
        s.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"):
        writer.run_sync(broken)
    assert writer.run_sync(append(1)) == 1


def test_a_write_after_stop_fails_with_a_clear_error(engines: tuple[Engine, Engine]):
    writer = StoreWriter(engines[0])
    with pytest.raises(WriterStopped, match="not accepting writes"):
        writer.run_sync(append(0))  # not started yet
    writer.start()
    queued = [writer.submit(append(n)) for n in range(5)]
    writer.stop()
    assert [f.result(0) for f in queued] == [1, 2, 3, 4, 5], "stop() must finish what was queued"
    with pytest.raises(WriterStopped, match="not accepting writes"):
        writer.run_sync(append(6))

    async def from_a_loop() -> None:
        await writer.run(append(7))

    with pytest.raises(WriterStopped):
        asyncio.run(from_a_loop())


def test_a_write_submitted_while_the_writer_stops_is_answered(engines: tuple[Engine, Engine]):
    """stop() queues its sentinel and then joins; a write submitted in between lands
    behind the sentinel.  It must be committed or refused, never left unanswered."""
    writer = StoreWriter(engines[0])
    writer.start()
    gate = Gate(writer)
    stopper = threading.Thread(target=writer.stop, args=(5.0,))
    stopper.start()
    try:
        for _ in range(1000):  # until stop() has queued its sentinel behind the gate
            if not writer._inbox.empty():
                break
            threading.Event().wait(0.005)
        late = writer.submit(append(1))
    finally:
        gate.open()
        stopper.join(10)
    try:
        late.result(timeout=2)
    except WriterStopped:
        pass  # refused: as good as committed, the caller knows
    except FutureTimeout:
        pytest.fail("a write submitted during stop() was never answered: its caller waits forever")


async def test_a_caller_that_gives_up_does_not_stop_the_writer(domain: StoreDomain):
    """A till's request timing out (or the hub's own shutdown cancelling a price check)
    cancels the awaiting task; the writer must still serve everybody else."""
    gate = Gate(domain.writer)
    impatient = asyncio.ensure_future(domain.accrue(CARD, AccrualCreate(points=5), "till-1"))
    patient = asyncio.ensure_future(domain.accrue(CARD, AccrualCreate(points=7), "till-2"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    await asyncio.sleep(0)
    gate.open()
    try:
        answer = await asyncio.wait_for(patient, 2)
    except TimeoutError:
        pytest.fail("the writer stopped answering after one caller was cancelled (batch-mates hang)")
    assert answer["points"] == 7
    try:
        later = await asyncio.wait_for(domain.accrue(CARD, AccrualCreate(points=1), "till-2"), 2)
    except TimeoutError:
        pytest.fail("the writer thread died after one caller was cancelled: no write is served any more")
    assert later["points"] == 1
    assert [row.type for row in outbox_rows(domain)][-1] == "loyalty.accrued"


def test_a_full_database_refuses_ordinary_writes_but_records_deliveries_and_prunes(
    engines: tuple[Engine, Engine], tmp_path: Path
):
    """The last of the room is the upkeep's: without it a full store could never record
    what the cloud confirmed, so never prune, so never take a sale again."""
    writer_engine, reader_engine = engines
    path = tmp_path / "store.db"
    plain = StoreWriter(writer_engine)
    plain.start()
    try:
        assert [plain.run_sync(append(n)) for n in range(3)] == [1, 2, 3]
    finally:
        plain.stop()
    # A cap that leaves less than the upkeep reserve (the cap counts pages in use, as SQLite's does).
    with reader_engine.connect() as connection:
        pages, free, size = (
            connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
            for name in ("page_count", "freelist_count", "page_size")
        )
    in_use = (pages - free) * size
    room = DatabaseRoom(reader_engine, path, in_use + UPKEEP_RESERVE_BYTES // 2)
    assert not room.enough_for_writes() and not room.enough_for_a_sale()
    writer = StoreWriter(writer_engine, room=room)
    writer.start()
    try:
        with pytest.raises(StoreError) as refused:
            writer.run_sync(append(4))
        assert refused.value.code == ErrorCode.STORAGE_FULL and writer.storage_full

        def deliver(session: Session) -> int:
            return outbox.acknowledge(session=session, upto_seq=3, now=0.0)[0]

        def prune(session: Session) -> int:
            return outbox.prune_delivered(session=session, occurred_before=time.time() + 60, limit=200)

        assert writer.submit(deliver, upkeep=True).result(5) == 3
        assert writer.submit(prune, upkeep=True).result(5) == 3
        with Session(reader_engine) as session:
            assert session.execute(select(OutboxEvent)).all() == []
            assert outbox.outbox_position(session=session).last_seq == 3, "the refused write took a seq"
    finally:
        writer.stop()
