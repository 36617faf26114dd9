"""The Products page in Debian's Chromium against the demo store: a manager searches by
name from the keyboard, opens a product, and scans a barcode into the search field (a
scanner types the GTIN and Enter) to see the price, the stock here and in the sister
stores, and a stale label's way to the Labels page; at desk and phone sizes."""

from __future__ import annotations

import httpx
import pytest

from hub.demo.catalogue import OUT_OF_STOCK
from tests.conftest import HubProcess
from tests.hub.test_web_products import demo_shop  # noqa: F401 (the module's hub with the demo store)
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in


def _product(hub: HubProcess, name: str) -> dict:
    answer = httpx.get(f"{hub.api_url}/api/v1/products", params={"q": name}, headers=hub.headers("manager-1"))
    (summary,) = [p for p in answer.json()["products"] if p["name"] == name]
    return httpx.get(f"{hub.api_url}/api/v1/products/{summary['sku']}", headers=hub.headers("manager-1")).json()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_a_manager_finds_a_product_and_scans_another(
    shop: Shop,
    demo_shop: HubProcess,  # noqa: F811 (the fixture imported above)
    viewport: dict[str, int],
) -> None:
    page = await shop.page(viewport)
    await sign_in(page, demo_shop.api_url, "manager-1", demo_shop.secrets["manager-1"])
    await page.get_by_role("link", name="Товары").click()
    await page.wait_for_url("**/manage/products")
    search = page.get_by_label("Название, артикул или штрихкод")
    await search.fill("молоко")
    await search.press("Enter")
    await page.wait_for_url("**q=**")
    cards = page.locator(".product")
    assert await cards.count() > 3
    assert all("олоко" in name for name in await page.locator(".product h2").all_inner_texts())
    await screenshot(page, "products")
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"

    sold_out = _product(demo_shop, OUT_OF_STOCK[0])
    await page.get_by_label("Название, артикул или штрихкод").fill("")
    await page.keyboard.type(sold_out["gtin"] + "\n")  # the scanner, into the focused field
    await page.wait_for_url(f"**/manage/products/{sold_out['sku']}")
    opened = page.locator(f'[data-sku="{sold_out["sku"]}"]')
    assert (await opened.locator("h2").inner_text()).replace("\u00a0", " ") == OUT_OF_STOCK[0]
    elsewhere = await opened.locator('[data-fact="elsewhere"]').inner_text()
    assert all(other["store_name"] in elsewhere for other in sold_out["elsewhere"])
    assert await page.evaluate("document.activeElement.id") == "q"  # ready for the next scan
    await screenshot(page, "products-scanned")

    await page.goto(f"{demo_shop.api_url}/manage/products/MLK-001")  # the demo changed its price
    await page.locator('[data-fact="label"]').get_by_role("link").click()
    await page.wait_for_url("**/manage/labels?q=MLK-001")
    assert await page.locator('tbody tr[data-sku="MLK-001"]').count() == 1


async def test_a_search_too_long_is_told_next_to_the_field(
    shop: Shop,
    demo_shop: HubProcess,  # noqa: F811 (the fixture imported above)
) -> None:
    page = await shop.page(PHONE)
    await sign_in(page, demo_shop.api_url, "manager-1", demo_shop.secrets["manager-1"])
    answer = await page.goto(f"{demo_shop.api_url}/manage/products?q={'я' * 65}")
    assert answer is not None and answer.status == 422
    search = page.get_by_label("Название, артикул или штрихкод")
    assert await search.get_attribute("aria-invalid") == "true"
    assert "не больше 64 знаков" in await page.locator("#q-problem").inner_text()
    assert await page.locator(".product").count() == 20
    await screenshot(page, "products-refused")
