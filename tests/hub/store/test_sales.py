"""Sales from closed fiscal documents: booked once per document, stock out (back for a
refund), loyalty earned and spent, and receipts the journal has but the store missed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from devices.fiscal_register import ClosedReceipt
from hub.store.domain import StoreDomain
from hub.store.journal import StoreDeviceJournal
from hub.store.models import LoyaltyMove, Sale, StockMove
from hub.store.sales import unbooked_journal_receipts
from hub.store.schemas import RedemptionCreate
from tests.hub.store.support import (
    ACCRUAL_PERCENT,
    CARD,
    MILK,
    STORE_ID,
    TEA,
    Clock,
    count,
    events,
    ledger,
    loyalty_moves,
    receive,
    sales,
    seed_catalogue,
    snapshot,
    stock_of,
)

FR = "fr-1"
#: The fiscal storage in FR, and the one that replaced it.
FN, NEW_FN = "9960440300000001", "9960440300000002"


def ref(number: int, storage: str = FN) -> str:
    """How stock moves and loyalty name a document."""
    return f"{FR}/{storage}#{number}"


def line(name: str, quantity: str, price: int, *, sku: str | None = None, gtin: str | None = None) -> dict[str, Any]:
    total = int((Decimal(quantity) * price).quantize(Decimal(1)))
    return {"name": name, "quantity": quantity, "price": price, "total": total, "sku": sku, "gtin": gtin,
            "tax_group": 1, "department": 1}  # fmt: skip


def receipt_data(number: int, lines: list[dict[str, Any]], *, operation: str = "sale", points: int = 0,
                 card: str | None = None, key: str | None = None, client: str = "till-1",
                 storage: str | None = FN) -> dict[str, Any]:  # fmt: skip
    """What the fiscal register's receipt_closed carries (devices/fiscal_register.py, _result)."""
    total = sum(item["total"] for item in lines)
    payments = [{"type": "card", "amount": total - points}] + (
        [{"type": "loyalty", "amount": points}] if points else []
    )
    storage_field = {} if storage is None else {"fn_serial": storage}  # None: as the journal kept it before 0006
    return storage_field | {
        "operation": operation, "document_number": number, "fiscal_sign": 3_000_000_000 + number,
        "issued_at": "2025-06-15T18:06:40", "total": total, "change": 0, "lines": lines, "payments": payments,
        "loyalty_card": card, "customer_contact": None, "client": client, "idempotency_key": key,
        "closed_at": 1750000001.0,  # Unix time, as bus.payloads.now() gives it
    }  # fmt: skip


def receipt(number: int, lines: list[dict[str, Any]], **kwargs: Any) -> ClosedReceipt:
    return ClosedReceipt.model_validate(receipt_data(number, lines, **kwargs))


MILK_2 = line("Молоко 3,2% 0,9 л", "2.000", 8990, sku=MILK.sku, gtin=MILK.gtin)  # 17980


async def shop(domain: StoreDomain, clock: Clock) -> None:
    await seed_catalogue(domain, MILK, TEA)
    await receive(domain, MILK.sku, "10")
    await receive(domain, TEA.sku, "5")
    await snapshot(domain, CARD, 5000, store_seq=0, as_of=clock() - 5)


async def test_a_receipt_delivered_twice_is_booked_once(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    closed = receipt(101, [MILK_2], card=CARD, key="till-1-s-1")
    seq = await domain.book_receipt(FR, closed)
    assert seq is not None
    assert await domain.book_receipt(FR, closed) is None
    assert await asyncio.gather(*(domain.book_receipt(FR, closed) for _ in range(5))) == [None] * 5

    [sale] = sales(domain)
    assert (sale.device_id, sale.document_number, sale.operation, sale.total, sale.seq) == (FR, 101, "sale", 17980, seq)
    assert (sale.client, sale.idempotency_key, sale.fiscal_sign) == ("till-1", "till-1-s-1", 3_000_000_101)
    assert len(await events(domain, "sale.completed")) == 1
    assert stock_of(domain, MILK.sku) == (8000, 0)
    assert loyalty_moves(domain, CARD) == [("accrual", 899, ref(101))]  # 5 % of 179.80
    assert domain.balance(CARD).pending_accruals == 899


async def test_two_deliveries_racing_through_the_loop_book_one_sale(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    closed = receipt(102, [MILK_2], card=CARD)
    domain.receipt_closed(FR, closed)  # the fiscal register's receipt, and its journal replayed
    domain.receipt_closed(FR, closed)
    await asyncio.sleep(0)  # both tasks have handed their write to the writer
    await domain.writer.run(lambda s: None)  # the writer serves in order: both are done
    assert count(domain, Sale) == 1 and len(await events(domain, "sale.completed")) == 1
    assert stock_of(domain, MILK.sku) == (8000, 0) and len(loyalty_moves(domain, CARD)) == 1


async def test_an_unreadable_receipt_is_not_booked(engines: tuple[Engine, Engine], domain: StoreDomain, clock: Clock):
    """A receipt reaches the store as the register's typed receipt, so an unreadable one
    can come only from the journal (a result an older version wrote): it is left there."""
    await shop(domain, clock)
    unreadable = {"operation": "sale", "document_number": 7, "total": 1, "lines": [], "payments": []}
    with pytest.raises(ValidationError):
        ClosedReceipt.model_validate(unreadable)
    journal = StoreDeviceJournal(engines[0])
    journal.begin(FR, "till-1-s-7", client="till-1", action="fiscalize", request={})
    journal.finish(FR, "till-1-s-7", unreadable)
    assert domain.read(lambda s: unbooked_journal_receipts(session=s)) == []
    assert await domain.book_journal_receipts() == 0
    assert count(domain, Sale) == 0 and await events(domain, "sale.completed") == []


async def test_the_sale_event_lines_by_sku_by_gtin_and_unknown(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    closed = receipt(
        103,
        [
            MILK_2,
            line("Чай чёрный", "1.000", 15990, gtin=TEA.gtin),  # the till sent the barcode only
            line("Пакет", "1.000", 100, sku="GONE-1"),  # delisted since the till cached it
            line("Свободная цена", "1.000", 500),  # neither
        ],
        key="till-1-s-3",
    )
    seq = await domain.book_receipt(FR, closed)
    [event] = await events(domain, "sale.completed")
    assert event["seq"] == seq and event["source"] == {"client": "till-1", "device": FR}
    assert event["store_id"] == STORE_ID
    data = event["data"]
    assert data["fiscal"] == {"device": FR, "fn_serial": FN, "document_number": 103, "fiscal_sign": 3_000_000_103,
                              "issued_at": "2025-06-15T18:06:40"}  # fmt: skip
    assert data["total"] == 17980 + 15990 + 100 + 500 and data["idempotency_key"] == "till-1-s-3"
    assert data["payments"] == [{"type": "card", "amount": data["total"]}] and data["loyalty"] is None
    assert [(item["sku"], item["gtin"], item["quantity"], item["total"]) for item in data["lines"]] == [
        (MILK.sku, MILK.gtin, "2.000", 17980),
        (TEA.sku, TEA.gtin, "1.000", 15990),
        ("GONE-1", None, "1.000", 100),
        (None, None, "1.000", 500),
    ]
    # The cloud gets the receipt's line, nothing of how the store booked it.
    assert {tuple(sorted(item)) for item in data["lines"]} == {("gtin", "name", "price", "quantity", "sku", "total")}
    assert stock_of(domain, MILK.sku) == (8000, 0) and stock_of(domain, TEA.sku) == (4000, 0)
    sold = [(sku, kind, delta) for sku, kind, delta, _ in ledger(domain) if kind == "sale"]
    assert sold == [(MILK.sku, "sale", -2000), (TEA.sku, "sale", -1000)]


async def test_a_weighed_line_moves_its_thousandths(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    await domain.book_receipt(FR, receipt(104, [line("Молоко", "0.455", 8990, sku=MILK.sku)]))
    assert stock_of(domain, MILK.sku) == (10000 - 455, 0)


async def test_paying_with_points_books_the_redemption(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    await domain.book_receipt(FR, receipt(105, [MILK_2], card=CARD, points=1000, key="till-1-s-5"))
    # Earned on what was paid in money: 5 % of 169.80, rounded down.
    assert loyalty_moves(domain, CARD) == [("accrual", 849, ref(105)), ("redemption", 1000, ref(105))]
    balance = domain.balance(CARD)
    assert (balance.pending_accruals, balance.pending_redemptions, balance.available) == (849, 1000, 4000)
    [sale] = await events(domain, "sale.completed")
    assert sale["data"]["loyalty"] == {"card": CARD, "accrued": 849, "redeemed": 1000}
    assert [e["type"] for e in await events(domain) if e["seq"] > sale["seq"]] == [
        "loyalty.accrued",
        "loyalty.redeemed",
    ]


async def test_points_the_till_redeemed_beforehand_are_not_redeemed_again(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    key = "till-1-s-6"
    await domain.redeem(CARD, RedemptionCreate(points=1000, reference=key, idempotency_key=f"{key}-r"), "till-1")
    assert domain.balance(CARD).available == 4000
    await domain.book_receipt(FR, receipt(106, [MILK_2], card=CARD, points=1000, key=key))
    assert [m for m in loyalty_moves(domain, CARD) if m[0] == "redemption"] == [("redemption", 1000, key)]
    balance = domain.balance(CARD)
    assert (balance.pending_redemptions, balance.available) == (1000, 4000)
    [sale] = await events(domain, "sale.completed")
    assert sale["data"]["loyalty"] == {"card": CARD, "accrued": 849, "redeemed": 0}
    assert len(await events(domain, "loyalty.redeemed")) == 1


async def test_a_receipt_paying_more_points_than_the_till_redeemed_books_the_rest(domain: StoreDomain, clock: Clock):
    """The till redeemed 500 under the sale's key, then the receipt took 1000 in points:
    the card must be charged 1000 in all, not 500."""
    await shop(domain, clock)
    key = "till-1-s-66"
    await domain.redeem(CARD, RedemptionCreate(points=500, reference=key), "till-1")
    await domain.book_receipt(FR, receipt(166, [MILK_2], card=CARD, points=1000, key=key))
    redeemed = sum(points for kind, points, _ in loyalty_moves(domain, CARD) if kind == "redemption")
    assert redeemed == 1000, f"the receipt paid 1000 points; the card was charged {redeemed}"
    assert domain.balance(CARD).available == 4000


async def test_a_points_payment_on_a_receipt_with_another_key_is_redeemed(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    await domain.redeem(CARD, RedemptionCreate(points=1000, reference="till-1-s-OTHER"), "till-1")
    await domain.book_receipt(FR, receipt(107, [MILK_2], card=CARD, points=1000, key="till-1-s-7"))
    assert domain.balance(CARD).pending_redemptions == 2000


async def test_a_refund_returns_stock_and_points_and_takes_back_the_accrual(domain: StoreDomain, clock: Clock):
    await shop(domain, clock)
    await domain.book_receipt(FR, receipt(108, [MILK_2], card=CARD, points=1000, key="till-1-s-8"))
    assert stock_of(domain, MILK.sku) == (8000, 0)
    seq = await domain.book_receipt(FR, receipt(109, [MILK_2], operation="refund", card=CARD, points=1000,
                                                key="till-1-r-8"))  # fmt: skip
    assert seq is not None
    assert stock_of(domain, MILK.sku) == (10000, 0)
    assert [(kind, delta) for _, kind, delta, _ in ledger(domain, MILK.sku)][-2:] == [("sale", -2000), ("refund", 2000)]
    [refunded] = await events(domain, "sale.refunded")
    assert refunded["seq"] == seq and refunded["data"]["fiscal"]["document_number"] == 109
    assert refunded["data"]["loyalty"] == {"card": CARD, "accrued": 1000, "redeemed": 849}
    assert loyalty_moves(domain, CARD)[-2:] == [("accrual", 1000, ref(109)), ("redemption", 849, ref(109))]
    [refund_row] = [s for s in sales(domain) if s.document_number == 109]
    assert refund_row.operation == "refund"
    # A refund is booked once too.
    assert await domain.book_receipt(FR, receipt(109, [MILK_2], operation="refund", card=CARD, points=1000)) is None
    assert stock_of(domain, MILK.sku) == (10000, 0)


def journal_result(number: int, lines: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    data = receipt_data(number, lines, **kwargs)
    for name in ("client", "idempotency_key", "closed_at"):  # the journal keeps these as its own columns
        data.pop(name)
    return data


async def test_a_receipt_the_journal_has_and_the_store_missed_is_booked_once(
    domain: StoreDomain, engines: tuple[Engine, Engine], clock: Clock
):
    await shop(domain, clock)
    journal = StoreDeviceJournal(engines[0])
    request = {"lines": [MILK_2], "payments": [{"type": "card", "amount": 17980}]}
    journal.begin(FR, "till-2-s-1", client="till-2", action="fiscalize", request=request)
    journal.finish(FR, "till-2-s-1", journal_result(201, [MILK_2], card=CARD))
    # Not closed, failed, or booked already: none of these is to book.
    journal.begin(FR, "till-2-s-2", client="till-2", action="fiscalize", request=request)
    journal.begin(FR, "till-2-s-3", client="till-2", action="fiscalize", request=request)
    journal.fail(FR, "till-2-s-3", {"code": "device_error", "message": "paper out", "details": None})
    journal.begin(FR, "till-2-s-4", client="till-2", action="fiscalize", request=request)
    journal.finish(FR, "till-2-s-4", journal_result(202, [MILK_2]))
    await domain.book_receipt(FR, receipt(202, [MILK_2], key="till-2-s-4", client="till-2"))
    journal.begin("fr-2", "till-3-x", client="till-3", action="x_report", request={})
    journal.finish("fr-2", "till-3-x", {"document_number": 9})
    # Another register's document 202 is another document.
    journal.begin("fr-2", "till-3-s-1", client="till-3", action="fiscalize", request=request)
    journal.finish("fr-2", "till-3-s-1", journal_result(202, [MILK_2]))

    found = sorted(domain.read(lambda s: unbooked_journal_receipts(session=s)), key=lambda f: f[0])
    assert [(device, r.document_number) for device, r in found] == [(FR, 201), ("fr-2", 202)]
    first = found[0][1]
    assert (first.client, first.idempotency_key, first.loyalty_card) == ("till-2", "till-2-s-1", CARD)

    assert await domain.book_journal_receipts() == 2
    assert await domain.book_journal_receipts() == 0
    assert sorted((s.device_id, s.document_number) for s in sales(domain)) == [(FR, 201), (FR, 202), ("fr-2", 202)]
    assert len(await events(domain, "sale.completed")) == 3
    assert stock_of(domain, MILK.sku) == (4000, 0)
    assert count(domain, LoyaltyMove) == 1


async def test_at_start_the_domain_books_what_the_journal_has(engines: tuple[Engine, Engine], clock: Clock):
    writer, reader = engines
    first = StoreDomain(store_id=STORE_ID, writer_engine=writer, reader_engine=reader,
                        accrual_percent=ACCRUAL_PERCENT, clock=clock)  # fmt: skip
    await first.start()
    await seed_catalogue(first, MILK)
    await receive(first, MILK.sku, "10")
    await first.stop()

    journal = StoreDeviceJournal(writer)  # the register closed these while the store was down
    journal.begin(FR, "till-1-s-1", client="till-1", action="fiscalize", request={})
    journal.finish(FR, "till-1-s-1", journal_result(301, [MILK_2]))
    journal.begin(FR, "till-1-r-1", client="till-1", action="refund", request={})
    refund = line("Молоко", "1.000", 8990, sku=MILK.sku)
    journal.finish(FR, "till-1-r-1", journal_result(302, [refund], operation="refund"))

    again = StoreDomain(store_id=STORE_ID, writer_engine=writer, reader_engine=reader,
                        accrual_percent=ACCRUAL_PERCENT, clock=clock)  # fmt: skip
    await again.start()
    try:
        assert sorted((s.document_number, s.operation) for s in sales(again)) == [(301, "sale"), (302, "refund")]
        assert stock_of(again, MILK.sku) == (10000 - 2000 + 1000, 0)
        assert count(again, StockMove) == 3
        assert await again.book_journal_receipts() == 0
    finally:
        await again.stop()


async def test_the_same_number_on_a_replaced_storage_is_another_sale(domain: StoreDomain, clock: Clock):
    """A new fiscal storage numbers from 1 again: its document 3 is not the old one's."""
    await shop(domain, clock)
    old = receipt(3, [MILK_2], card=CARD, key="till-1-s-1")
    new = receipt(3, [MILK_2], card=CARD, key="till-1-s-2", storage=NEW_FN)
    assert await domain.book_receipt(FR, old) is not None
    assert await domain.book_receipt(FR, new) is not None
    assert await domain.book_receipt(FR, old) is None and await domain.book_receipt(FR, new) is None

    assert sorted((s.fn_serial, s.document_number) for s in sales(domain)) == [(FN, 3), (NEW_FN, 3)]
    completed = await events(domain, "sale.completed")
    assert [e["data"]["fiscal"]["fn_serial"] for e in completed] == [FN, NEW_FN]
    assert stock_of(domain, MILK.sku) == (6000, 0)
    assert loyalty_moves(domain, CARD) == [("accrual", 899, ref(3)), ("accrual", 899, ref(3, NEW_FN))]
    sold = select(StockMove.reference).where(StockMove.kind == "sale").order_by(StockMove.id)
    moves = domain.read(lambda s: list(s.execute(sold).scalars()))
    assert moves == [ref(3), ref(3, NEW_FN)]


async def test_a_journal_receipt_on_a_replaced_storage_is_booked_at_start(
    domain: StoreDomain, engines: tuple[Engine, Engine], clock: Clock
):
    await shop(domain, clock)
    await domain.book_receipt(FR, receipt(3, [MILK_2], key="till-1-s-1"))
    journal = StoreDeviceJournal(engines[0])
    journal.begin(FR, "till-1-s-1", client="till-1", action="fiscalize", request={})
    journal.finish(FR, "till-1-s-1", journal_result(3, [MILK_2]))
    journal.begin(FR, "till-1-s-2", client="till-1", action="fiscalize", request={})
    journal.finish(FR, "till-1-s-2", journal_result(3, [MILK_2], storage=NEW_FN))
    found = domain.read(lambda s: unbooked_journal_receipts(session=s))
    assert [(r.fn_serial, r.document_number, r.idempotency_key) for _, r in found] == [(NEW_FN, 3, "till-1-s-2")]
    assert await domain.book_journal_receipts() == 1
    assert await domain.book_journal_receipts() == 0
    assert stock_of(domain, MILK.sku) == (6000, 0)
