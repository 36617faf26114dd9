"""The store's day: today's receipts summed in SQL against a real SQLite file — per till,
card and cash, refunds taken off, yesterday left out, a document delivered twice once."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devices.fiscal_register import ClosedReceipt
from hub.store.domain import StoreDomain
from tests.hub.store.support import MILK, TEA, Clock, receive, seed_catalogue
from tests.hub.store.test_sales import FR, MILK_2, line, receipt_data

#: A second till's register.
FR_2 = "fr-2"
TEA_1 = line("Чай чёрный 100 пак.", "1.000", 15990, sku=TEA.sku)  # 15990


@pytest.fixture(autouse=True)
def moscow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The hub's box set to Moscow time (UTC+3, no summer time): the day is the local one."""
    monkeypatch.setenv("TZ", "Europe/Moscow")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def at(clock: Clock, hour: int, minute: int = 0, *, days: int = 0) -> float:
    """Moves the clock to hour:minute Moscow time, ``days`` from the clock's day."""
    day = dt.datetime.fromtimestamp(clock()).date() + dt.timedelta(days=days)
    clock.now = dt.datetime.combine(day, dt.time(hour, minute)).astimezone().timestamp()
    return clock.now


def paid(number: int, lines: list[dict[str, Any]], payments: list[dict[str, Any]], *, change: int = 0,
         operation: str = "sale", client: str = "till-1") -> ClosedReceipt:  # fmt: skip
    data = receipt_data(number, lines, operation=operation, client=client)
    return ClosedReceipt.model_validate(data | {"payments": payments, "change": change})


async def test_today_per_till_card_and_cash_yesterday_left_out_a_document_once(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA)
    await receive(domain, MILK.sku, "20")
    await receive(domain, TEA.sku, "20")

    at(clock, 23, 50, days=-1)  # yesterday evening: not today's
    await domain.book_receipt(FR, paid(90, [TEA_1], [{"type": "card", "amount": 15990}]))
    at(clock, 0, 0, days=1)  # midnight: today's first
    # Cash 200.00 for 179.80: the change (20.20) is not revenue.
    await domain.book_receipt(FR, paid(91, [MILK_2], [{"type": "cash", "amount": 20000}], change=2020))
    at(clock, 9, 15)
    tea_by_card = paid(92, [TEA_1], [{"type": "card", "amount": 15990}])
    await domain.book_receipt(FR, tea_by_card)
    assert await domain.book_receipt(FR, tea_by_card) is None  # delivered twice, booked once
    at(clock, 11, 30)
    split = [{"type": "cash", "amount": 5990}, {"type": "card", "amount": 10000}]
    await domain.book_receipt(FR_2, paid(7, [TEA_1], split, client="till-2"))
    at(clock, 12, 0)
    await domain.book_receipt(FR, paid(93, [TEA_1], [{"type": "card", "amount": 15990}], operation="refund"))
    at(clock, 23, 59)
    await domain.book_receipt(FR_2, paid(8, [MILK_2], [{"type": "card", "amount": 17980}], client="till-2"))

    day = domain.day()
    assert day.since.isoformat() == f"{day.since.date()}T00:00:00+03:00" and day.timezone == "MSK"
    assert day.until - day.since == dt.timedelta(days=1)
    assert (day.receipts, day.refunds, day.sold, day.refunded) == (4, 1, 17980 + 15990 + 15990 + 17980, 15990)
    assert day.revenue == 17980 + 15990 + 17980
    assert day.average_receipt == (17980 + 15990) // 2  # 169.85 a receipt
    assert (day.card, day.cash, day.points, day.unsplit) == (15990 + 10000 + 17980 - 15990, 17980 + 5990, 0, 0)
    assert day.card + day.cash == day.revenue

    one, two = day.tills
    assert (one.till, one.receipts, one.refunds, one.revenue, one.card, one.cash) == (
        "till-1", 2, 1, 17980, 0, 17980
    )  # fmt: skip
    assert (two.till, two.receipts, two.revenue, two.card, two.cash) == ("till-2", 2, 33970, 27980, 5990)
    assert two.average_receipt == 16985

    yesterday = domain.day(day.since.date() - dt.timedelta(days=1))
    assert (yesterday.receipts, yesterday.revenue, yesterday.card, [t.till for t in yesterday.tills]) == (
        1, 15990, 15990, ["till-1"]
    )  # fmt: skip


async def test_a_day_without_receipts_has_no_average(domain: StoreDomain, clock: Clock):
    day = domain.day()
    assert (day.receipts, day.revenue, day.average_receipt, day.tills) == (0, 0, None, [])


async def test_points_are_their_own_part_and_a_rounded_average(domain: StoreDomain, clock: Clock):
    await seed_catalogue(domain, MILK, TEA)
    await receive(domain, MILK.sku, "20")
    at(clock, 10)
    milk = [{"type": "loyalty", "amount": 980}, {"type": "card", "amount": 17000}]
    await domain.book_receipt(FR, paid(1, [MILK_2], milk))
    await domain.book_receipt(FR, paid(2, [line("Пакет", "1.000", 5)], [{"type": "cash", "amount": 5}]))
    day = domain.day()
    assert (day.card, day.points, day.cash) == (17000, 980, 5)
    assert day.average_receipt == 8993  # 179.85 / 2 = 89.925 -> 89.93
