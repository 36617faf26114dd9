"""The Labels page in Debian's Chromium against a real hub whose queue the reference
cloud filled (tests/stale_shelf.py): the list searched, filtered and paged by keyboard
and mouse as a manager does, at desk and phone sizes, with screenshots of each view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devices.sim.zpl_printer import ZplPrinterSimulator
from hub.throwaway import shelf_products
from tests.conftest import CloudProcess, HubProcess, until
from tests.stale_shelf import SHELF, publish_stale, stale_shelf, store_with_a_zebra
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in


@pytest.fixture
async def shelf_hub(tmp_path: Path, cloud: CloudProcess) -> AsyncIterator[HubProcess]:
    async with stale_shelf(tmp_path, cloud) as (hub, _):
        yield hub


async def test_the_list_is_searched_filtered_and_paged_in_the_browser(shop: Shop, shelf_hub: HubProcess) -> None:
    for viewport in (DESK, PHONE):  # one hub for both sizes
        page = await shop.page(viewport)
        await sign_in(page, shelf_hub.api_url, "manager-1", shelf_hub.secrets["manager-1"])
        assert await page.locator('[data-figure="stale"]').inner_text() == str(SHELF)
        assert await page.locator("tbody tr").count() == 100
        await screenshot(page, "labels-list")
        wide = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, "the list scrolls sideways"

        await page.get_by_label("Название товара или артикул").fill("№17")
        await page.get_by_label("Название товара или артикул").press("Enter")  # the keyboard submits the form
        await page.wait_for_url("**q=**")
        assert await page.locator("tbody tr").count() == 11
        await screenshot(page, "labels-search")

        await page.get_by_label("Название товара или артикул").fill("")
        await page.get_by_label("Категория").select_option("Чай")
        await page.get_by_role("button", name="Найти").click()
        await page.wait_for_url("**category=**")
        assert await page.locator("tbody tr").count() == 50

        await page.goto(f"{shelf_hub.api_url}/manage/labels")
        await page.get_by_role("link", name="Дальше →").click()
        await page.get_by_role("link", name="Дальше →").click()
        assert await page.locator("tbody tr").count() == SHELF - 200

        await page.get_by_label("Страница").fill("0")  # what was typed stays in the field, told why
        await page.get_by_label("Страница").press("Enter")
        await page.wait_for_load_state()
        assert "от 1 до 10000" in await page.locator("#page-problem").inner_text()
        assert await page.get_by_label("Страница").get_attribute("aria-invalid") == "true"
        assert await page.get_by_label("Страница").input_value() == "0"
        await screenshot(page, "labels-wrong-page")


async def test_three_labels_print_on_the_zebra_from_the_browser(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with store_with_a_zebra(tmp_path, cloud, zebra) as hub:
        await publish_stale(cloud, hub, *shelf_products(6))
        await until(lambda: _idle(hub, "labels-1"), 15, "the Zebra ready")
        for viewport, skus in ((DESK, ["B-00000", "B-00001", "B-00002"]), (PHONE, ["B-00003", "B-00004"])):
            page = await shop.page(viewport)
            await sign_in(page, hub.api_url, "manager-1", hub.secrets["manager-1"])
            for sku in skus:
                await page.locator(f'tr[data-sku="{sku}"] input[type=checkbox]').check()
            await page.get_by_label("Принтер").select_option("labels-1")
            await page.get_by_label("Шаблон", exact=True).select_option("shelf-58x40")
            await screenshot(page, "labels-print-form")
            await page.get_by_role("button", name="Печать").click()
            await page.wait_for_selector('[data-run="printed"]', timeout=30_000)  # htmx swapped the answer in
            assert await page.locator("[data-printed]").count() == len(skus)
            bar = page.get_by_role("progressbar", name="Напечатано ценников")
            assert (await bar.get_attribute("value"), await bar.get_attribute("max")) == (str(len(skus)),) * 2
            await screenshot(page, "labels-printed")
            await page.goto(f"{hub.api_url}/manage/labels")
            for sku in skus:
                assert await page.locator(f'tr[data-sku="{sku}"]').count() == 0, "a printed label left the list"
            await page.get_by_role("link", name="Журнал печати →").click()
            assert await page.locator("tr[data-journal]").count() >= len(skus)
            await screenshot(page, "labels-journal")
            assert not await page.evaluate("document.documentElement.scrollWidth > window.innerWidth"), (
                "scrolls sideways"
            )
        assert len(zebra.labels) == 5


def _idle(hub: HubProcess, device: str) -> bool:
    answer = httpx.get(f"{hub.api_url}/api/v1/devices/{device}", headers=hub.headers("manager-1"), timeout=10)
    return answer.json()["status"] == "idle"


async def test_a_price_from_the_cloud_appears_on_the_open_page_without_a_reload(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with store_with_a_zebra(tmp_path, cloud, zebra) as hub:
        await publish_stale(cloud, hub, *shelf_products(2))
        page = await shop.page()
        await sign_in(page, hub.api_url, "manager-1", hub.secrets["manager-1"])
        assert await page.locator("tbody tr").count() == 2
        loaded = await page.evaluate("performance.timeOrigin")
        products, prices = shelf_products(1, first=2)
        cloud.publish(products=products, prices=prices)
        await page.wait_for_selector('tr[data-sku="B-00002"]', timeout=30_000)
        assert await page.locator('[data-figure="stale"]').inner_text() == "3"
        assert await page.evaluate("performance.timeOrigin") == loaded, "the page was not reloaded"
        await screenshot(page, "labels-live")
