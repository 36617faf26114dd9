"""The transactional outbox: gapless seqs in commit order, a failed write gives its seq
back, the event document the cloud receives, and an acknowledgement that only moves forward."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest

from bus.payloads import ErrorCode
from hub.store import outbox, stock
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError
from hub.store.models import StockMove
from hub.store.outbox import NewEvent
from hub.store.schemas import AccrualCreate, StockMoveCreate
from tests.hub.store.support import (
    CARD,
    MILK,
    STORE_ID,
    TEA,
    Clock,
    Gate,
    count,
    events,
    ledger,
    outbox_rows,
    receive,
    seed_catalogue,
    stock_of,
)

RFC3339_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_seqs_are_gapless_and_follow_the_order_writes_were_committed(domain: StoreDomain):
    await seed_catalogue(domain, MILK, TEA)
    before = (await domain.events(after=0, limit=1, wait_s=0)).last_seq

    await asyncio.gather(
        *(receive(domain, MILK.sku if n % 2 else TEA.sku, "1") for n in range(20)),
        *(domain.accrue(CARD, AccrualCreate(points=10 + n), "till-1") for n in range(20)),
    )
    page = await domain.events(after=before, limit=1000, wait_s=0)
    seqs = [event.seq for event in page.events]
    assert seqs == list(range(before + 1, before + 41)) and page.last_seq == before + 40

    # One writer, first come first served: the seqs follow the order of submission.
    accruals = await asyncio.gather(*(domain.accrue(CARD, AccrualCreate(points=n + 1), "till-1") for n in range(15)))
    assert [a["seq"] for a in accruals] == list(range(before + 41, before + 56))
    assert [a["points"] for a in accruals] == list(range(1, 16))


async def test_a_write_that_fails_in_a_batch_gives_its_seq_back_and_the_others_commit(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    last = (await domain.events(after=0, limit=1, wait_s=0)).last_seq
    now = domain.clock()

    def move(quantity: str, fail: bool = False):
        def work(s):
            answer = stock.book_move(
                session=s, move=StockMoveCreate(sku=MILK.sku, kind="receipt", quantity=Decimal(quantity)),
                client="manager-1", now=now,
            )  # fmt: skip
            if fail:
                raise RuntimeError("the disk said no half-way")
            return answer

        return work

    commits = domain.writer.commits
    gate = Gate(domain.writer)
    first, failing, third = (domain.writer.submit(w) for w in (move("5"), move("7", fail=True), move("11")))
    gate.open()
    assert first.result(5).seq == last + 1
    with pytest.raises(RuntimeError, match="half-way"):
        failing.result(5)
    assert third.result(5).seq == last + 2, "the failed write's seq was not given back"
    assert domain.writer.commits == commits + 2  # the gate's batch, then the three together

    assert [e["seq"] for e in await events(domain)] == list(range(1, last + 3))
    assert [e["data"]["quantity"] for e in (await events(domain))[-2:]] == ["5.000", "11.000"]
    assert ledger(domain, MILK.sku) == [(MILK.sku, "receipt", 5000, 0), (MILK.sku, "receipt", 11000, 0)]
    assert stock_of(domain, MILK.sku) == (16000, 0)
    assert count(domain, StockMove) == 2

    # And the next write, in a batch of its own, goes on from there.
    await receive(domain, MILK.sku, "1")
    assert (await domain.events(after=0, limit=1, wait_s=0)).last_seq == last + 3


async def test_a_refused_domain_write_in_the_same_batch_leaves_no_hole(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    last = (await domain.events(after=0, limit=1, wait_s=0)).last_seq
    gate = Gate(domain.writer)
    tasks = [
        asyncio.ensure_future(receive(domain, MILK.sku, "2")),
        asyncio.ensure_future(domain.book_stock_move(StockMoveCreate(sku="NOPE-1", kind="receipt", quantity=1), "m")),
        asyncio.ensure_future(receive(domain, MILK.sku, "3")),
    ]
    await asyncio.sleep(0.05)  # every task has submitted its write behind the gate
    gate.open()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(outcomes[1], StoreError) and outcomes[1].code == ErrorCode.NOT_FOUND
    assert [e["seq"] for e in await events(domain)] == list(range(1, last + 3))
    assert stock_of(domain, MILK.sku) == (5000, 0)


async def test_the_event_document_the_cloud_receives(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    clock.now = 1_750_000_000.25
    await domain.book_stock_move(StockMoveCreate(sku=MILK.sku, kind="receipt", quantity=Decimal("24")), "manager-1")
    [event] = await events(domain, "stock.received")
    assert set(event) == {"event_id", "store_id", "seq", "type", "occurred_at", "source", "schema", "data"}
    assert event["store_id"] == STORE_ID and event["schema"] == 1
    assert event["source"] == {"client": "manager-1", "device": None}
    assert event["occurred_at"] == "2025-06-15T15:06:40.250Z"
    assert RFC3339_UTC_MS.match(event["occurred_at"])
    assert uuid.UUID(event["event_id"]).version == 7
    assert event["data"] == {"sku": MILK.sku, "kind": "receipt", "quantity": "24.000", "counted": None,
                             "on_hand": "24.000", "reason": ""}  # fmt: skip


async def test_event_ids_sort_in_seq_order_even_within_one_millisecond(domain: StoreDomain):
    # Many events in one transaction: most of them share a millisecond.
    await domain.writer.run(
        lambda s: outbox.append_events(
            session=s, events=[NewEvent("test.tick", {"n": n}, occurred_at=1.0) for n in range(300)]
        )
    )
    for n in range(30):  # and across transactions
        await domain.writer.run(lambda s, n=n: outbox.append_event(session=s, event=NewEvent("test.tock", {"n": n})))
    rows = outbox_rows(domain)
    ids = [row.event_id for row in rows]
    assert len(set(ids)) == len(ids) == 330
    assert sorted(ids) == ids, "a later event's id sorts before an earlier one's"
    assert [uuid.UUID(i).version for i in ids] == [7] * 330
    assert rows[0].occurred_at == "1970-01-01T00:00:01.000Z"


def test_rfc3339_is_utc_with_milliseconds():
    moment = dt.datetime(2025, 3, 30, 1, 30, 0, 123000, tzinfo=dt.timezone(dt.timedelta(hours=3))).timestamp()
    assert outbox.rfc3339(moment) == "2025-03-29T22:30:00.123Z"
    assert dt.datetime.fromisoformat(outbox.rfc3339(moment).replace("Z", "+00:00")).timestamp() == moment


async def test_acknowledge_moves_only_forward_and_never_past_the_last_event(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)
    for _ in range(5):
        await receive(domain, MILK.sku, "1")
    last = (await domain.events(after=0, limit=1, wait_s=0)).last_seq

    first = await domain.acknowledge(last - 2)
    assert (first.acked_seq, first.moved) == (last - 2, True)
    older = await domain.acknowledge(last - 4)
    assert (older.acked_seq, older.moved) == (last - 2, False)
    same = await domain.acknowledge(last - 2)
    assert (same.acked_seq, same.moved) == (last - 2, False)
    assert (await domain.events(after=0, limit=1, wait_s=0)).acked_seq == last - 2

    with pytest.raises(StoreError) as beyond:
        await domain.acknowledge(last + 1)
    assert beyond.value.code == ErrorCode.INVALID_REQUEST
    assert beyond.value.details == {"field": "upto_seq", "last_seq": last}
    assert (await domain.events(after=0, limit=1, wait_s=0)).acked_seq == last - 2

    clock.advance(10)
    final = await domain.acknowledge(last)
    assert (final.acked_seq, final.moved) == (last, True)
    page = await domain.events(after=0, limit=1, wait_s=0)
    assert (page.acked_seq, page.last_seq) == (last, last)
    # Acknowledged events stay readable: the cloud may pull them again.
    assert len((await domain.events(after=0, limit=1000, wait_s=0)).events) == last
