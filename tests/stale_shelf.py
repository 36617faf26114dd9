"""A hub whose label queue the reference cloud filled: ``SHELF`` products, one in five
in the category "Чай", the rest "Бакалея", each with a new price — stale labels to
search, filter and page through, for the Labels page's tests in httpx and in Chromium."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from hub.throwaway import shelf_products
from tests.conftest import CloudProcess, HubProcess, start_hub, until

SHELF = 250  # three pages of 100


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@asynccontextmanager
async def stale_shelf(tmp_path: Path, cloud: CloudProcess) -> AsyncIterator[tuple[HubProcess, httpx.Client]]:
    """The hub, once all ``SHELF`` labels are in its queue, and manager-1 signed in to it."""
    await asyncio.to_thread(cloud.start)
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", cloud=cloud.hub_section(mode="push"))
    try:
        products, prices = shelf_products(SHELF)
        for n, product in enumerate(products):
            product["category"] = "Чай" if n % 5 == 0 else "Бакалея"
        cloud.publish(products=products, prices=prices)
        with httpx.Client(base_url=hub.api_url) as web:
            token = csrf(web.get("/manage/login").text)
            web.post(
                "/manage/login", data={"client_id": "manager-1", "secret": hub.secrets["manager-1"], "csrf": token}
            )
            await until(lambda: f'data-figure="stale">{SHELF}<' in web.get("/manage/labels").text, 30, "the shelf")
            yield hub, web
    finally:
        await asyncio.to_thread(hub.cleanup)
