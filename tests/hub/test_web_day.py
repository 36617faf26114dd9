"""The store's day on the managers' page, against a real hub whose till sold through the
simulated fiscal register: the figures are the store's own (REST's ``/day``), the cloud
link's state is ``sync/state``'s, another day is a date away, and a date the form cannot
read is told next to its field."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devices.labels.wording import rubles
from tests.conftest import Connect, until
from tests.hub.test_peripherals_fiscal import (
    CATALOGUE,
    DEVICE,
    RECEIPT,
    RECEIPT_TOTAL,
    Shop,
    register_shop,
    rest,
    store_events,
)
from tests.hub.test_web_pickups import signed_in

#: The refund gives back the cheese, paid back by card.
CHEESE = 28799


def shown(page: str, attribute: str, name: str) -> str:
    """An element's text by its data attribute, tags stripped, spaces as the page has them."""
    value = re.search(rf'data-{attribute}="{name}"[^>]*>(.*?)</(?:span|dd|tr)>', page, re.S)
    assert value, f"no {attribute}={name} in {page}"
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", value.group(1))).strip()


async def sell_and_refund(shop: Shop) -> None:
    """till-1 sells the receipt, then takes the cheese back, through the real register."""
    rest(shop.hub, "cloud", "POST", "/sync/inbound", json=CATALOGUE)
    sold = await shop.till.request(DEVICE, "fiscalize", RECEIPT, idempotency_key="day-sale-1")
    assert sold.ok, sold
    refund = {"lines": [RECEIPT["lines"][1]], "payments": [{"type": "card", "amount": CHEESE}]}
    returned = await shop.till.request(DEVICE, "refund", refund, idempotency_key="day-refund-1")
    assert returned.ok, returned
    await until(lambda: {"sale.completed", "sale.refunded"} <= {e["type"] for e in store_events(shop.hub)}, 5, "booked")


@pytest.fixture
async def shop(tmp_path: Path, connect: Connect) -> AsyncIterator[Shop]:
    async with register_shop(tmp_path, connect) as opened:
        yield opened


async def test_a_manager_sees_todays_receipts_money_and_tills_as_the_store_counts_them(shop: Shop) -> None:
    await sell_and_refund(shop)
    day = rest(shop.hub, "manager-1", "GET", "/day")
    with signed_in(shop.hub, "manager-1") as web:
        page = (await asyncio.to_thread(web.get, "/manage/day")).text

    assert shown(page, "figure", "receipts") == "1" == str(day["receipts"])
    assert shown(page, "figure", "revenue") == rubles(RECEIPT_TOTAL - CHEESE) == rubles(day["revenue"])
    assert shown(page, "figure", "average") == rubles(RECEIPT_TOTAL)
    # Card took 250 and gave 287.99 back: below zero, with a minus sign.
    assert shown(page, "paid", "card") == rubles(25000 - CHEESE) and shown(page, "paid", "card").startswith("\u2212")
    assert shown(page, "paid", "cash") == rubles(RECEIPT_TOTAL - 25000) == rubles(day["cash"])
    assert shown(page, "paid", "refunds") == f"1 · {rubles(CHEESE)}"
    till = shown(page, "till", "till-1")
    assert till.split()[:2] == ["till-1", "1"] and rubles(RECEIPT_TOTAL - CHEESE) in till
    assert "Сегодня" in page and 'hx-trigger="every 15s"' in page  # today's page keeps itself fresh

    # The cloud link as sync/state tells it: this hub has no cloud, so the sale's events wait.
    state = rest(shop.hub, "manager-1", "GET", "/sync/state")
    assert f'data-level="{state["level"]}"' in page
    assert re.search(rf"\b{state['backlog']}\b", shown(page, "cloud", "backlog")), state


async def test_another_day_is_a_date_away_and_a_wrong_date_is_told_next_to_its_field(shop: Shop) -> None:
    await sell_and_refund(shop)
    with signed_in(shop.hub, "manager-1") as web:
        quiet = web.get("/manage/day", params={"date": "2001-01-01"})
        assert quiet.status_code == 200 and shown(quiet.text, "figure", "receipts") == "0"
        assert "В этот день чеков не было." in quiet.text and "hx-trigger" not in quiet.text
        assert 'href="/manage/day?date=2001-01-02"' in quiet.text and 'href="/manage/day"' in quiet.text
        assert shown(quiet.text, "figure", "average") == "—"

        for wrong, says in (
            ("31.12.2026", "год-месяц-число"),
            ("9999-12-31", "с 2000-01-01 по 2999-12-31"),
            ("2026-02-30", "год-месяц-число"),
            ("x" * 500, "год-месяц-число"),
        ):
            refused = web.get("/manage/day", params={"date": wrong})
            assert refused.status_code == 422, (wrong, refused.text)
            problem = re.search(r'id="date-problem"[^>]*>([^<]+)<', refused.text)
            assert problem and says in problem.group(1), (wrong, refused.text)
            assert 'aria-invalid="true"' in refused.text
            assert shown(refused.text, "figure", "receipts") == "1"  # today below the message

        live = web.get("/manage/day", headers={"HX-Request": "true"})
        assert live.status_code == 200 and live.text.startswith('<div id="day"') and "<html" not in live.text

        web.get("/manage/language/en")
        english = html.unescape(web.get("/manage/day").text)
        assert "The store's day" in english and "average receipt" in english and "Per till" in english


async def test_a_technician_may_look_and_a_visitor_signs_in_first(shop: Shop) -> None:
    with signed_in(shop.hub, "tech-1") as web:
        assert web.get("/manage/day").status_code == 200
    with httpx.Client(base_url=shop.hub.api_url) as visitor:
        answer = visitor.get("/manage/day")
        assert answer.status_code == 303 and answer.headers["location"] == "/manage/login"


async def test_no_date_makes_the_page_fail(shop: Shop) -> None:
    typed = ["", " ", "2026-12-04T10:00", "0000-00-00", "\x00", "٢٠٢٦-١٢-٠٤", "2026-W49-5", "2026-12-04&date=1"]
    with signed_in(shop.hub, "manager-1") as web:
        for date in typed:
            assert web.get("/manage/day", params={"date": date}).status_code in (200, 422), date
