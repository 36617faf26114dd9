"""Every page of the managers' page, as the demo store fills it, on the back office's
desk and on a phone: each opens signed in, says what it is in its heading, fits the
screen's width, and leaves a screenshot for people to look at (``.artifacts/screens``,
``page-<name>-<width>x<height>.png``)."""

from __future__ import annotations

import pytest

from tests.conftest import HubProcess
from tests.hub.test_web_products import demo_shop  # noqa: F401 (the module's hub with the demo store)
from tests.web.conftest import DESK, PHONE, Shop, screenshot, sign_in

#: name, path, the heading in Russian.
PAGES = [
    ("labels", "/manage/labels", "Ценники"),
    ("labels-journal", "/manage/labels/journal", "Журнал печати"),
    ("pickups", "/manage/pickups?view=open", "Самовывоз"),
    ("products", "/manage/products", "Товары"),
    ("product", "/manage/products/MLK-001", "Товары"),
    ("day", "/manage/day", "День магазина"),
]


async def _fits(page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow} px wider than the screen"


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
async def test_every_page_opens_fits_and_is_photographed(
    shop: Shop,
    demo_shop: HubProcess,  # noqa: F811 (the fixture imported above)
    viewport: dict[str, int],
) -> None:
    page = await shop.page(viewport)
    await page.goto(f"{demo_shop.api_url}/manage/login")
    await screenshot(page, "page-sign-in")
    await _fits(page)
    await sign_in(page, demo_shop.api_url, "manager-1", demo_shop.secrets["manager-1"])
    for name, path, heading in PAGES:
        answer = await page.goto(demo_shop.api_url + path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        assert await page.locator("h1").first.inner_text() == heading, path
        await screenshot(page, f"page-{name}")
        await _fits(page)
