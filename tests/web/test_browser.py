"""The managers' page in Debian's Chromium against a real hub (tests/web/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import HubProcess
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_a_manager_signs_in_with_only_loopback_reachable(
    shop: Shop, shared_hub: HubProcess, viewport: dict[str, int]
) -> None:
    page = await shop.page(viewport)
    await page.goto(f"{shared_hub.api_url}/manage/login")
    assert await page.locator("html").get_attribute("lang") == "ru"
    await screenshot(page, "sign-in")
    await sign_in(page, shared_hub.api_url, "manager-1", shared_hub.secrets["manager-1"])
    assert "manager-1" in await page.locator("header").inner_text()
    await screenshot(page, "labels")
    assert await page.evaluate("typeof window.htmx") == "object"  # the hub's own htmx ran


async def test_a_tills_credentials_are_refused_in_the_browser(shop: Shop, shared_hub: HubProcess) -> None:
    page = await shop.page()
    await page.goto(f"{shared_hub.api_url}/manage/login")
    await page.fill("#client_id", "till-1")
    await page.fill("#secret", shared_hub.secrets["till-1"])
    async with page.expect_response("**/manage/login") as answer:
        await page.click("button[type=submit]")
    assert (await answer.value).status == 403
    assert "только для менеджеров и техников" in await page.locator("[role=alert]").inner_text()
    assert "storehub_session" not in {cookie["name"] for cookie in await page.context.cookies()}


async def test_the_loopback_guard_catches_a_page_reaching_out(shop: Shop) -> None:
    page = await shop.page()
    await page.set_content('<img src="https://cdn.example.com/logo.png">')
    await page.wait_for_load_state("networkidle")
    assert shop.refused == ["https://cdn.example.com/logo.png"]
    shop.refused.clear()  # caught, as the guard must; the fixture would fail the test otherwise


async def test_the_api_reference_renders_with_only_loopback_reachable(shop: Shop, shared_hub: HubProcess) -> None:
    page = await shop.page()
    await page.goto(f"{shared_hub.api_url}/docs")
    await page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)  # drawn by the hub's own Swagger UI
    assert await page.locator(".opblock").count() > 10
    await screenshot(page, "api-reference")
