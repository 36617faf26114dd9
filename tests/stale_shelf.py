"""Hubs with stale shelf labels for the label tests: ``stale_shelf``, whose queue the
reference cloud filled with ``SHELF`` products (one in five in the category "Чай", the
rest "Бакалея") to search, filter and page through; ``store_with_a_zebra``, whose label
printer is the simulated Zebra, and ``publish_stale`` to fill its queue."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from devices.sim.zpl_printer import ZplPrinterSimulator
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


def _queue(hub: HubProcess) -> dict[str, Any]:
    return httpx.get(f"{hub.api_url}/api/v1/labels", headers=hub.headers("manager-1"), timeout=10).json()


@asynccontextmanager
async def store_with_a_zebra(
    tmp_path: Path, cloud: CloudProcess, zebra: ZplPrinterSimulator, *more: dict[str, Any]
) -> AsyncIterator[HubProcess]:
    """The reference cloud and a hub whose label printer ``labels-1`` is the simulated
    ``zebra`` (started here, stopped after), beside the ``more`` devices."""
    await zebra.start()
    devices = [
        {"id": "labels-1", "kind": "label_printer", "port": f"tcp:{zebra.address}",
         "options": {"profile": "zebra-zd421-203"}},
        *more,
    ]  # fmt: skip
    try:
        await asyncio.to_thread(cloud.start)
        hub = await asyncio.to_thread(
            start_hub, tmp_path / "hub", devices=devices, cloud=cloud.hub_section(mode="push")
        )
        try:
            yield hub
        finally:
            await asyncio.to_thread(hub.cleanup)
    finally:
        await zebra.stop()


async def publish_stale(cloud: CloudProcess, hub: HubProcess, products: list[dict], prices: list[dict]) -> None:
    """New products and prices from the head office, waited for in the store's label queue."""
    cloud.publish(products=products, prices=prices)
    count = len(products)
    await until(lambda: _queue(hub)["count"] == count, 30, f"{count} stale labels")
