"""The Labels page in Debian's Chromium against a real hub whose queue the reference
cloud filled (tests/stale_shelf.py): the list searched, filtered and paged by keyboard
and mouse as a manager does, at desk and phone sizes, with screenshots of each view."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page

from devices.sim.zpl_printer import ZplPrinterSimulator
from hub.throwaway import shelf_products
from tests.conftest import CloudProcess, HubProcess
from tests.stale_shelf import (
    SHEET_PRINTER,
    SHELF,
    publish_stale,
    sheet_barcodes,
    stale_shelf,
    store_with_a_zebra,
    zebra_with_stale_labels,
)
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in


@pytest.fixture
async def shelf_hub(tmp_path: Path, cloud: CloudProcess) -> AsyncIterator[HubProcess]:
    async with stale_shelf(tmp_path, cloud) as (hub, _):
        yield hub


async def _manager_page(shop: Shop, hub: HubProcess, viewport: dict[str, int] = DESK) -> Page:
    """A page at ``viewport`` on which manager-1 signed in, at the Labels page."""
    page = await shop.page(viewport)
    await sign_in(page, hub.api_url, "manager-1", hub.secrets["manager-1"])
    return page


async def _tick(page: Page, skus: list[str]) -> None:
    """Tick these labels in the list for printing."""
    for sku in skus:
        await page.locator(f'tr[data-sku="{sku}"] input[type=checkbox]').check()


async def test_the_list_is_searched_filtered_and_paged_in_the_browser(shop: Shop, shelf_hub: HubProcess) -> None:
    for viewport in (DESK, PHONE):  # one hub for both sizes
        page = await _manager_page(shop, shelf_hub, viewport)
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
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 6) as (hub, _):
        for viewport, skus in ((DESK, ["B-00000", "B-00001", "B-00002"]), (PHONE, ["B-00003", "B-00004"])):
            page = await _manager_page(shop, hub, viewport)
            await _tick(page, skus)
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


async def test_a_price_from_the_cloud_appears_on_the_open_page_without_a_reload(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with store_with_a_zebra(tmp_path, cloud, zebra) as hub:
        await publish_stale(cloud, hub, *shelf_products(2))
        page = await _manager_page(shop, hub)
        assert await page.locator("tbody tr").count() == 2
        loaded = await page.evaluate("performance.timeOrigin")
        products, prices = shelf_products(1, first=2)
        cloud.publish(products=products, prices=prices)
        await page.wait_for_selector('tr[data-sku="B-00002"]', timeout=30_000)
        assert await page.locator('[data-figure="stale"]').inner_text() == "3"
        assert await page.evaluate("performance.timeOrigin") == loaded, "the page was not reloaded"
        await screenshot(page, "labels-live")


async def test_a_tag_preview_opens_over_the_list_by_mouse_and_keyboard(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 3) as (hub, products):
        for viewport in (DESK, PHONE):
            page = await _manager_page(shop, hub, viewport)
            await page.get_by_label("Шаблон", exact=True).select_option("small-43x25")
            opener = page.get_by_role("link", name="Посмотреть ценник Товар для полки №1, 500 г")
            if viewport is DESK:
                await opener.click()
            else:  # by keyboard: the link takes Enter, the dialog Escape
                await opener.focus()
                await page.keyboard.press("Enter")
            dialog = page.locator("dialog#preview")
            await dialog.locator("img").wait_for()
            assert await dialog.evaluate("d => d.open"), "the dialog opened"
            picture = dialog.locator("img")
            await page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=await picture.element_handle()
            )
            assert await picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [43 * 8, 25 * 8]
            alt = await picture.get_attribute("alt")
            assert alt is not None and products[1]["gtin"] in alt and "99,91" in alt
            shown = await picture.bounding_box()
            assert shown is not None and shown["width"] <= viewport["width"], "the tag fits the screen"
            await screenshot(page, "labels-preview")
            await page.keyboard.press("Escape")
            assert not await dialog.evaluate("d => d.open"), "Escape closes the preview"
            await page.get_by_label("Шаблон", exact=True).select_option("promo-58x40")  # no old price: refused
            await opener.click()
            await dialog.get_by_role("alert").wait_for()
            assert "Этот ценник не напечатать" in await dialog.get_by_role("alert").inner_text()
            assert await dialog.evaluate("d => d.open") and await dialog.locator("img").count() == 0
            await screenshot(page, "labels-preview-refused")
            await page.keyboard.press("Escape")
            await page.goto(f"{hub.api_url}{await opener.get_attribute('href')}")  # without htmx: its own page
            await page.get_by_label("Шаблон", exact=True).select_option("shelf-58x40")
            await page.get_by_role("button", name="Показать").click()
            await page.wait_for_url("**template=shelf-58x40**")
            alone = page.locator("#preview-tag img")
            await page.wait_for_function(
                "img => img.complete && img.naturalWidth === 464", arg=await alone.element_handle()
            )
            await screenshot(page, "labels-preview-page")
        assert zebra.labels == [], "a preview prints nothing"


async def test_an_a4_sheet_printed_from_the_page_downloads_with_the_products_barcodes(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 5, SHEET_PRINTER) as (hub, products):
        page = await _manager_page(shop, hub)
        three = ["B-00000", "B-00002", "B-00004"]
        await _tick(page, three)
        await page.get_by_label("Принтер").select_option("sheets-1")
        await page.get_by_role("button", name="Печать").click()
        await page.wait_for_selector('[data-run="printed"]', timeout=30_000)
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Скачать лист A4 (PDF)").click()
        download = await downloading.value
        pdf = Path(await download.path()).read_bytes()
        assert sorted(sheet_barcodes(pdf)) == sorted(p["gtin"] for p in products if p["sku"] in three)
        await screenshot(page, "labels-a4-printed")
        assert zebra.labels == [], "only the sheet printed"


async def test_a_print_without_the_form_token_is_refused_in_the_browser(
    shop: Shop, tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 2) as (hub, _):
        page = await _manager_page(shop, hub)
        await _tick(page, ["B-00000"])
        await page.evaluate("document.querySelector('.print-form input[name=csrf]').remove()")
        async with page.expect_response("**/manage/labels/print") as posting:
            await page.get_by_role("button", name="Печать").click()
        assert (await posting.value).status == 403
        await page.wait_for_load_state()
        assert "Форма устарела" in await page.get_by_role("alert").inner_text()
        await screenshot(page, "labels-print-refused")
        assert zebra.labels == [], "nothing printed"
        await page.goto(f"{hub.api_url}/manage/labels")
        assert await page.locator('tr[data-sku="B-00000"]').count() == 1, "the label is still stale"
