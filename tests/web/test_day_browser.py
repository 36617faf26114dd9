"""The store's day in Debian's Chromium: a manager opens it from the header after a till
sold through the simulated register, reads the figures on a desk and on a phone, and
looks at another day from the date field with the keyboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.labels.wording import rubles
from tests.conftest import Connect
from tests.hub.test_peripherals_fiscal import RECEIPT_TOTAL, register_shop
from tests.hub.test_peripherals_fiscal import Shop as RegisterShop
from tests.hub.test_web_day import CHEESE, sell_and_refund
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in


@pytest.fixture
async def selling(tmp_path: Path, connect: Connect) -> AsyncIterator[RegisterShop]:
    """A hub whose till-1 sold one receipt and took its cheese back today."""
    async with register_shop(tmp_path, connect) as opened:
        await sell_and_refund(opened)
        yield opened


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_a_manager_reads_the_days_figures_on_a_desk_and_a_phone(
    shop: Shop, selling: RegisterShop, viewport: dict[str, int]
) -> None:
    hub = selling.hub
    page = await shop.page(viewport)
    await sign_in(page, hub.api_url, "manager-1", hub.secrets["manager-1"])
    await page.get_by_role("link", name="День", exact=True).click()
    await page.wait_for_url("**/manage/day")
    assert await page.locator('[data-figure="receipts"]').inner_text() == "1"
    assert await page.locator('[data-figure="revenue"]').inner_text() == rubles(RECEIPT_TOTAL - CHEESE)
    assert await page.locator('[data-till="till-1"]').is_visible()
    assert await page.locator('[data-cloud="level"]').inner_text()
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    await screenshot(page, "day")

    # Another day from the keyboard: the date field, a date, Enter.
    await page.get_by_label("День", exact=True).focus()
    await page.keyboard.type("01012001")  # Chromium's date field takes the digits in the locale's order
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/manage/day?date=2001-01-01")
    assert await page.locator('[data-figure="receipts"]').inner_text() == "0"
    await page.get_by_role("link", name="Сегодня").click()
    await page.wait_for_url("**/manage/day")
    assert await page.locator('[data-figure="receipts"]').inner_text() == "1"
