"""The Pickups page in Debian's Chromium: a manager sets an order aside and hands it
over with the shopper's code; a wrong code is refused next to its field."""

from __future__ import annotations

import pytest

from tests.conftest import HubProcess
from tests.hub.test_web_pickups import orders, state_of  # noqa: F401 (the module's orders from the cloud)
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in

pytestmark = pytest.mark.usefixtures("orders")


async def test_a_manager_hands_over_an_order_only_with_the_shoppers_code(shop: Shop, shared_hub: HubProcess) -> None:
    page = await shop.page(PHONE)
    await sign_in(page, shared_hub.api_url, "manager-1", shared_hub.secrets["manager-1"])
    await page.get_by_role("link", name="Самовывоз").click()
    soon = page.locator('[data-order="PKP-SOON"]')
    late = page.locator('[data-order="PKP-LATE"]')
    assert "просрочен" in await late.inner_text() and "просрочен" not in await soon.inner_text()
    await screenshot(page, "pickups")

    await soon.get_by_role("button", name="Собрать").click()
    assert "Заказ PKP-SOON: собран." in await page.get_by_role("status").inner_text()
    await soon.get_by_label("Код покупателя").fill("0000")
    await soon.get_by_role("button", name="Выдать").click()
    problem = page.locator("#code-PKP-SOON")
    assert "Неверный код выдачи" in await problem.inner_text()
    assert await soon.get_by_label("Код покупателя").get_attribute("aria-invalid") == "true"
    await screenshot(page, "pickups-wrong-code")
    assert state_of(shared_hub, "PKP-SOON") == "ready"

    await page.locator('[data-order="PKP-SOON"]').get_by_label("Код покупателя").fill("7351")
    await page.keyboard.press("Enter")  # the code field's own form, from the keyboard
    await page.get_by_role("status").wait_for()
    assert "Заказ PKP-SOON: выдан." in await page.get_by_role("status").inner_text()
    assert state_of(shared_hub, "PKP-SOON") == "collected"


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_the_pickups_page_fits_the_screen(shop: Shop, shared_hub: HubProcess, viewport: dict[str, int]) -> None:
    page = await shop.page(viewport)
    await sign_in(page, shared_hub.api_url, "manager-1", shared_hub.secrets["manager-1"])
    await page.goto(f"{shared_hub.api_url}/manage/pickups?view=open")
    assert await page.locator("[data-order]").count() >= 2
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    await screenshot(page, "pickups-open")
