"""Shared data and helpers for the store domain's unit tests (fixtures: conftest.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from hub.store.domain import StoreDomain
from hub.store.models import LoyaltyMove, OutboxEvent, Sale, StockLevel, StockMove
from hub.store.schemas import (
    InboundBatch,
    InboundReport,
    LoyaltySnapshotIn,
    PickupIn,
    PriceIn,
    ProductIn,
    StockMoveCreate,
)
from hub.store.writer import StoreWriter

#: The fake clock starts here (2025-06-15T15:06:40.250Z): fractional, to check the milliseconds.
START = 1_750_000_000.25

STORE_ID = "test-store"
ACCRUAL_PERCENT = Decimal("5")

MILK = ProductIn(sku="MLK-001", gtin="4600000000015", name="Молоко 3,2% 0,9 л", net_content=Decimal("0.900"),
                 unit_price_basis="l", aisle="B2", tax_group=2, version=1)  # fmt: skip
TEA = ProductIn(sku="TEA-017", gtin="4600000000022", name="Чай чёрный 100 пак.", aisle="D1", version=1)
BREAD = ProductIn(sku="BRD-400", gtin="4600000000039", name="Хлеб бородинский 400 г", net_content=Decimal("0.400"),
                  unit_price_basis="kg", aisle="A1", version=1)  # fmt: skip
CARD = "7700000000017"


class Clock:
    """The domain's clock, moved by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def iso(moment: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, dt.UTC)


def price(sku: str, version: int, amount: int, effective_at: float | None = None) -> PriceIn:
    return PriceIn(
        sku=sku, version=version, amount=amount, effective_at=None if effective_at is None else iso(effective_at)
    )


async def inbound(domain: StoreDomain, **items: Any) -> InboundReport:
    return await domain.inbound(InboundBatch(**items))


async def seed_catalogue(domain: StoreDomain, *products: ProductIn, amount: int = 10000) -> None:
    """Products with a price in effect and an empty label queue."""
    products = products or (MILK, TEA, BREAD)
    report = await inbound(
        domain,
        products=list(products),
        prices=[price(p.sku, 1, amount, domain.clock() - 60) for p in products],
    )
    assert report.applied["products"] == len(products) and report.applied["prices"] == len(products), report
    await clear_labels(domain)


async def clear_labels(domain: StoreDomain, skus: list[str] | None = None) -> int:
    from hub.store import catalogue

    return await domain.writer.run(lambda s: catalogue.clear_labels(session=s, skus=skus))


async def receive(domain: StoreDomain, sku: str, quantity: str, client: str = "manager-1") -> None:
    await domain.book_stock_move(StockMoveCreate(sku=sku, kind="receipt", quantity=Decimal(quantity)), client)


async def snapshot(domain: StoreDomain, card: str, balance: int, *, store_seq: int, as_of: float) -> InboundReport:
    return await inbound(
        domain, loyalty=[LoyaltySnapshotIn(card=card, balance=balance, store_seq=store_seq, as_of=iso(as_of))]
    )


def pickup_order(order_id: str, lines: list[tuple[str, str]], *, deadline: float, version: int = 1,
                 code: str = "4821", cancelled: bool = False) -> PickupIn:  # fmt: skip
    return PickupIn(
        id=order_id, version=version, customer_name="Анна Смирнова", code=code, deadline=iso(deadline),
        lines=[{"sku": sku, "quantity": Decimal(q)} for sku, q in lines], cancelled=cancelled,
    )  # fmt: skip


def stock_of(domain: StoreDomain, sku: str) -> tuple[int, int]:
    """(on hand, reserved) in thousandths, as stock_level holds them."""

    def work(s: Session) -> tuple[int, int]:
        level = s.get(StockLevel, sku)
        return (level.on_hand, level.reserved) if level else (0, 0)

    return domain.read(work)


def ledger(domain: StoreDomain, sku: str | None = None) -> list[tuple[str, str, int, int]]:
    """(sku, kind, on-hand delta, reserved delta) of every stock move, in order."""

    def work(s: Session) -> list[tuple[str, str, int, int]]:
        query = select(StockMove).order_by(StockMove.id)
        if sku is not None:
            query = query.where(StockMove.sku == sku)
        return [(m.sku, m.kind, m.on_hand_delta, m.reserved_delta) for m in s.execute(query).scalars()]

    return domain.read(work)


async def events(domain: StoreDomain, type_: str | None = None) -> list[dict[str, Any]]:
    """Every outbox event as the cloud pulls it, by seq (optionally of one type)."""
    page = await domain.events(after=0, limit=100_000, wait_s=0)
    docs = [event.model_dump(mode="json", by_alias=True) for event in page.events]
    return [doc for doc in docs if type_ is None or doc["type"] == type_]


def count(domain: StoreDomain, model: Any) -> int:
    return domain.read(lambda s: s.execute(select(func.count()).select_from(model)).scalar_one())


def loyalty_moves(domain: StoreDomain, card: str) -> list[tuple[str, int, str]]:
    return domain.read(
        lambda s: [
            (m.kind, m.points, m.reference)
            for m in s.execute(select(LoyaltyMove).where(LoyaltyMove.card == card).order_by(LoyaltyMove.id)).scalars()
        ]
    )


def sales(domain: StoreDomain) -> list[Sale]:
    return domain.read(lambda s: list(s.execute(select(Sale)).scalars()))


def outbox_rows(domain: StoreDomain) -> list[OutboxEvent]:
    return domain.read(lambda s: list(s.execute(select(OutboxEvent).order_by(OutboxEvent.seq)).scalars()))


class Gate:
    """Holds a writer's thread inside one write, so what is submitted meanwhile queues
    up and is committed as one batch when the gate opens."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.future = writer.submit(self._hold)
        assert self.entered.wait(5), "the writer never started the gate's write"

    def _hold(self, _session: Session) -> None:
        self.entered.set()
        self.opened.wait(10)

    def open(self) -> None:
        self.opened.set()
        self.future.result(5)


def submit_all(writer: StoreWriter, works: list[Callable[[Session], Any]]) -> list[Any]:
    return [writer.submit(work) for work in works]
