"""The stock ledger: counts, write-offs and receipts as moves; running totals the ledger
can rebuild; keyed moves booked once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bus.payloads import ErrorCode
from devices.fiscal_register import ClosedReceipt
from hub.store import stock
from hub.store.domain import StoreDomain
from hub.store.errors import StoreError
from hub.store.models import StockLevel, StockMove
from hub.store.schemas import PickupTransition, StockElsewhereIn, StockMoveCreate
from tests.hub.store.support import (
    BREAD,
    MILK,
    TEA,
    Clock,
    count,
    events,
    inbound,
    iso,
    ledger,
    pickup_order,
    receive,
    seed_catalogue,
    stock_of,
)


def move(sku: str, kind: str, quantity: str, **fields) -> StockMoveCreate:
    return StockMoveCreate(sku=sku, kind=kind, quantity=Decimal(quantity), **fields)


async def test_receipt_raises_write_off_lowers_and_count_sets_with_a_correcting_move(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    received = await domain.book_stock_move(move(MILK.sku, "receipt", "24", reason="delivery 118"), "manager-1")
    assert received["quantity"] == "24.000" and received["stock"]["on_hand"] == "24.000"
    written_off = await domain.book_stock_move(move(MILK.sku, "write_off", "1.5"), "manager-1")
    assert written_off["quantity"] == "-1.500" and written_off["stock"]["on_hand"] == "22.500"

    counted = await domain.book_stock_move(move(MILK.sku, "count", "20"), "manager-1")
    assert counted["quantity"] == "-2.500", "a count books the difference to what the ledger said"
    assert counted["stock"] == {"on_hand": "20.000", "reserved": "0.000", "available": "20.000"}
    counted_up = await domain.book_stock_move(move(MILK.sku, "count", "21.25"), "manager-1")
    assert counted_up["quantity"] == "1.250"
    to_zero = await domain.book_stock_move(move(MILK.sku, "count", "0"), "manager-1")
    assert to_zero["quantity"] == "-21.250" and to_zero["stock"]["on_hand"] == "0.000"

    assert ledger(domain, MILK.sku) == [
        (MILK.sku, "receipt", 24000, 0),
        (MILK.sku, "write_off", -1500, 0),
        (MILK.sku, "count", -2500, 0),
        (MILK.sku, "count", 1250, 0),
        (MILK.sku, "count", -21250, 0),
    ]
    assert stock_of(domain, MILK.sku) == (0, 0)
    types = [(e["type"], e["data"]["quantity"], e["data"]["on_hand"]) for e in await events(domain)]
    assert types == [
        ("stock.received", "24.000", "24.000"),
        ("stock.adjusted", "-1.500", "22.500"),
        ("stock.adjusted", "-2.500", "20.000"),
        ("stock.adjusted", "1.250", "21.250"),
        ("stock.adjusted", "-21.250", "0.000"),
    ]
    assert domain.product(sku=MILK.sku).stock.on_hand == Decimal("0.000")


async def test_a_receipt_or_write_off_of_nothing_and_an_unknown_product_are_refused(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    for kind in ("receipt", "write_off"):
        with pytest.raises(StoreError) as zero:
            await domain.book_stock_move(move(MILK.sku, kind, "0"), "manager-1")
        assert zero.value.code == ErrorCode.INVALID_REQUEST and zero.value.details == {"field": "quantity"}
    with pytest.raises(StoreError) as unknown:
        await domain.book_stock_move(move("NOPE-1", "receipt", "1"), "manager-1")
    assert unknown.value.code == ErrorCode.NOT_FOUND
    assert count(domain, StockMove) == 0 and await events(domain, "stock.received") == []


async def test_rebuild_levels_from_the_ledger_reproduces_the_running_totals(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA, BREAD)
    await receive(domain, MILK.sku, "40")
    await receive(domain, TEA.sku, "12")
    await receive(domain, BREAD.sku, "7.5")
    await domain.book_stock_move(move(TEA.sku, "write_off", "2"), "manager-1")
    await domain.book_stock_move(move(BREAD.sku, "count", "6.25"), "manager-1")
    await inbound(domain, pickups=[pickup_order("CC-1", [(MILK.sku, "3"), (TEA.sku, "1")], deadline=clock() + 3600),
                                   pickup_order("CC-2", [(MILK.sku, "2")], deadline=clock() + 3600)])  # fmt: skip
    await domain.transition_pickup("CC-1", PickupTransition(to="ready"), "till-1")
    await domain.transition_pickup("CC-2", PickupTransition(to="ready"), "till-1")
    await domain.transition_pickup("CC-2", PickupTransition(to="collected", code="4821"), "till-1")
    sale = ClosedReceipt.model_validate(
        {"operation": "sale", "document_number": 1, "total": 100, "payments": [{"type": "cash", "amount": 100}],
         "lines": [{"name": "Хлеб", "quantity": "1.250", "price": 80, "total": 100, "sku": BREAD.sku}]}
    )  # fmt: skip
    assert await domain.book_receipt("fr-1", sale) is not None

    def levels(s: Session) -> dict[str, tuple[int, int]]:
        return {row.sku: (row.on_hand, row.reserved) for row in s.execute(select(StockLevel)).scalars()}

    before = domain.read(levels)
    assert before == {
        MILK.sku: (40000 - 2000, 3000),
        TEA.sku: (12000 - 2000, 1000),
        BREAD.sku: (6250 - 1250, 0),
    }

    def corrupt_and_rebuild(s: Session) -> int:
        s.get(StockLevel, MILK.sku).on_hand = 999
        s.delete(s.get(StockLevel, TEA.sku))
        s.get(StockLevel, BREAD.sku).reserved = 77
        s.flush()
        return stock.rebuild_levels(session=s)

    assert await domain.writer.run(corrupt_and_rebuild) == 3
    assert domain.read(levels) == before


async def test_a_keyed_move_sent_twice_is_booked_once_and_answered_the_same(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    body = move(MILK.sku, "receipt", "24", reason="delivery 118", idempotency_key="m-1-118")
    first = await domain.book_stock_move(body, "manager-1")
    again = await domain.book_stock_move(body, "manager-1")
    assert again == first
    assert stock_of(domain, MILK.sku) == (24000, 0)
    assert len(ledger(domain, MILK.sku)) == 1 and len(await events(domain, "stock.received")) == 1

    # The key is the client's own: another client's same key is another move.
    other = await domain.book_stock_move(body, "manager-2")
    assert other["seq"] != first["seq"] and stock_of(domain, MILK.sku) == (48000, 0)


async def test_a_keyed_count_retried_after_other_moves_is_not_booked_again(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    counted = move(MILK.sku, "count", "10", idempotency_key="inv-7")
    first = await domain.book_stock_move(counted, "manager-1")
    await receive(domain, MILK.sku, "5")
    assert await domain.book_stock_move(counted, "manager-1") == first
    assert stock_of(domain, MILK.sku) == (15000, 0)


async def test_concurrent_retries_of_one_keyed_move_book_it_once(domain: StoreDomain):
    await seed_catalogue(domain, MILK)
    body = move(MILK.sku, "receipt", "3", idempotency_key="m-1-9")
    answers = await asyncio.gather(*(domain.book_stock_move(body, "manager-1") for _ in range(10)))
    assert all(a == answers[0] for a in answers)
    assert stock_of(domain, MILK.sku) == (3000, 0) and len(ledger(domain, MILK.sku)) == 1


async def test_the_same_key_with_another_body_is_a_conflict(domain: StoreDomain):
    await seed_catalogue(domain, MILK, TEA)
    await domain.book_stock_move(move(MILK.sku, "receipt", "24", idempotency_key="m-1-118"), "manager-1")
    for changed in (
        move(MILK.sku, "receipt", "25", idempotency_key="m-1-118"),
        move(TEA.sku, "receipt", "24", idempotency_key="m-1-118"),
        move(MILK.sku, "write_off", "24", idempotency_key="m-1-118"),
    ):
        with pytest.raises(StoreError) as conflict:
            await domain.book_stock_move(changed, "manager-1")
        assert conflict.value.code == ErrorCode.CONFLICT
        assert conflict.value.details == {"field": "idempotency_key"}
    assert stock_of(domain, MILK.sku) == (24000, 0) and stock_of(domain, TEA.sku) == (0, 0)
    assert len(ledger(domain)) == 1


async def test_another_stores_stock_is_replaced_only_by_a_newer_snapshot(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK)

    def elsewhere(available: str, as_of: float) -> StockElsewhereIn:
        return StockElsewhereIn(store_id="store-arbat", store_name="Арбат", sku=MILK.sku,
                                available=Decimal(available), as_of=iso(as_of))  # fmt: skip

    assert (await inbound(domain, stock_elsewhere=[elsewhere("12", clock() - 600)])).applied["stock_elsewhere"] == 1
    older = await inbound(domain, stock_elsewhere=[elsewhere("99", clock() - 900)])
    assert [(i.id, i.reason) for i in older.ignored] == [(f"store-arbat/{MILK.sku}", "older_version")]
    [arbat] = domain.product(sku=MILK.sku).elsewhere
    assert (arbat.available, arbat.age_s) == (Decimal("12.000"), 600.0)
    await inbound(domain, stock_elsewhere=[elsewhere("3", clock() - 60)])
    [arbat] = domain.product(sku=MILK.sku).elsewhere
    assert (arbat.available, arbat.age_s) == (Decimal("3.000"), 60.0)
