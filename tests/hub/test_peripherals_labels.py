"""A manager prints the stale shelf labels over MQTT through a real hub: new prices from
the reference cloud fill the label queue, the simulated Zebra prints the tags (zxing-cpp
reads each GTIN off its label), the queue empties and the journal names the printer; the
A4-sheet printer writes its PDF where managers download sheets from."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pypdfium2
import zxingcpp

from devices.sim.zpl_printer import ZplPrinterSimulator
from tests.conftest import CloudProcess, Connect, HubProcess, start_hub, until, until_device_online

#: The hub opens its devices after it reports ready; the printers are up well within this.
DEVICE_ONLINE_TIMEOUT_S = 10.0

PRODUCTS = [
    {"sku": "CHS-200", "version": 1, "gtin": "4600000000046", "name": "Сыр российский 200 г", "category": "Сыры"},
    {"sku": "MLK-900", "version": 1, "gtin": "4600000000091", "name": "Молоко 3,2% 900 мл", "category": "Молоко"},
]
PRICES = [{"sku": "CHS-200", "version": 1, "amount": 25990}, {"sku": "MLK-900", "version": 1, "amount": 8990}]


def get(hub: HubProcess, who: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(hub.api_url + path, headers=hub.headers(who), params=params, timeout=10)


async def test_a_manager_prints_the_stale_labels_and_the_queue_empties(
    tmp_path: Path, cloud: CloudProcess, connect: Connect
):
    printer = ZplPrinterSimulator(dpmm=8)
    await printer.start()
    devices = [
        {"id": "labels-1", "kind": "label_printer", "port": f"tcp:{printer.address}",
         "options": {"profile": "zebra-zd421-203"}},
        {"id": "sheets-1", "kind": "label_printer", "options": {"profile": "a4-sheet"}},
    ]  # fmt: skip
    await asyncio.to_thread(cloud.start)
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices, cloud=cloud.hub_section(mode="push"))
    try:
        manager = await connect(hub, "manager-1")
        deadline = time.monotonic() + DEVICE_ONLINE_TIMEOUT_S
        for device in ("labels-1", "sheets-1"):
            await until_device_online(manager, hub, device, deadline - time.monotonic())
        cloud.publish(products=PRODUCTS, prices=PRICES)
        await until(lambda: get(hub, "manager-1", "/api/v1/labels").json()["count"] == 2, 15, "two stale labels")

        printed = await manager.request("labels-1", "print_labels", {"queue": {}})
        assert printed.ok and printed.result is not None, printed
        assert printed.result["printed"] == 2 and printed.result["template"] == "shelf-58x40"
        read = sorted(
            code.text for label in printer.labels for code in zxingcpp.read_barcodes(label.image.convert("L"))
        )
        assert read == ["4600000000046", "4600000000091"]
        assert get(hub, "manager-1", "/api/v1/labels").json()["count"] == 0
        entries = get(hub, "manager-1", "/api/v1/labels/journal", sku="CHS-200").json()["entries"]
        assert [(e["device"], e["price_version"], e["amount"]) for e in entries] == [("labels-1", 1, 25990)]

        # The same tags on an A4 sheet, by name: the manager downloads the PDF over REST.
        sheet = await manager.request("sheets-1", "print_labels", {"items": [{"sku": "CHS-200", "copies": 3}]})
        assert sheet.ok and sheet.result is not None, sheet
        listed = get(hub, "manager-1", "/api/v1/labels/sheets").json()["sheets"]
        assert [s["name"] for s in listed] == [sheet.result["file"]]
        pdf = pypdfium2.PdfDocument(get(hub, "manager-1", f"/api/v1/labels/sheets/{sheet.result['file']}").content)
        assert pdf[0].get_textpage().get_text_range().count("Сыр российский 200 г") == 3

        unknown = await manager.request("labels-1", "print_labels", {"items": [{"sku": "NOPE-1"}]})
        assert unknown.error is not None and unknown.error.code == "invalid_request", unknown
        kiosk = await connect(hub, "kiosk-1")
        refused = await kiosk.request("labels-1", "print_labels", {"queue": {}})
        assert refused.error is not None and refused.error.code == "forbidden", refused
        assert len(printer.labels) == 2
    finally:
        await asyncio.to_thread(hub.cleanup)
        await printer.stop()
