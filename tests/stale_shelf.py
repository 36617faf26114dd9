"""Hubs with stale shelf labels for the label tests: ``stale_shelf``, whose queue the
reference cloud filled with ``SHELF`` products (one in five in the category "Чай", the
rest "Бакалея") to search, filter and page through; ``store_with_a_zebra``, whose label
printer is the simulated Zebra, and ``publish_stale`` to fill its queue (both at once:
``zebra_with_stale_labels``).  Beside them:
``sign_in`` to the managers' page, ``idle`` for a printer ready, and ``sheet_barcodes``,
what a barcode reader finds on an A4 sheet's PDF."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pypdfium2
import zxingcpp

from devices.sim.zpl_printer import ZplPrinterSimulator
from hub.throwaway import shelf_products
from tests.conftest import CloudProcess, HubProcess, start_hub, until

SHELF = 250  # three pages of 100
#: The office printer's A4 sheets (PDF files in the hub's folder), beside the Zebra.
SHEET_PRINTER = {"id": "sheets-1", "kind": "label_printer", "options": {"profile": "a4-sheet"}}
#: An A4 sheet is read at the resolution an office printer prints it.
SHEET_DPI = 300


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(hub: HubProcess, web: httpx.Client, client_id: str = "manager-1") -> str:
    """``client_id`` signed in to the managers' page through its form; the session's CSRF token."""
    token = csrf(web.get("/manage/login").text)
    web.post("/manage/login", data={"client_id": client_id, "secret": hub.secrets[client_id], "csrf": token})
    return csrf(web.get("/manage/labels").text)


def idle(hub: HubProcess, device: str) -> bool:
    answer = httpx.get(f"{hub.api_url}/api/v1/devices/{device}", headers=hub.headers("manager-1"), timeout=10)
    return answer.json()["status"] == "idle"


def sheet_barcodes(pdf: bytes) -> list[str]:
    """Every barcode zxing-cpp reads on the sheet's pages, page by page, as pdfium renders them."""
    document = pypdfium2.PdfDocument(pdf)
    return [
        code.text
        for page in document
        for code in zxingcpp.read_barcodes(page.render(scale=SHEET_DPI / 72).to_pil().convert("L"))
    ]


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


@asynccontextmanager
async def zebra_with_stale_labels(
    tmp_path: Path, cloud: CloudProcess, zebra: ZplPrinterSimulator, count: int, *more: dict[str, Any]
) -> AsyncIterator[tuple[HubProcess, list[dict[str, Any]]]]:
    """``store_with_a_zebra`` once ``count`` new products (``shelf_products``) are stale
    labels in its queue and every label printer is ready; the hub and the products."""
    async with store_with_a_zebra(tmp_path, cloud, zebra, *more) as hub:
        products, prices = shelf_products(count)
        await publish_stale(cloud, hub, products, prices)
        printers = ["labels-1", *(device["id"] for device in more if device["kind"] == "label_printer")]
        await until(lambda: all(idle(hub, printer) for printer in printers), 15, "the printers ready")
        yield hub, products


async def publish_stale(cloud: CloudProcess, hub: HubProcess, products: list[dict], prices: list[dict]) -> None:
    """New products and prices from the head office, waited for in the store's label queue."""
    cloud.publish(products=products, prices=prices)
    count = len(products)
    await until(lambda: _queue(hub)["count"] == count, 30, f"{count} stale labels")
