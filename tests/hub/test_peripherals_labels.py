"""A manager prints the stale shelf labels over MQTT through a real hub: new prices from
the reference cloud fill the label queue, the simulated Zebra prints the tags (zxing-cpp
reads each GTIN off its label), the queue empties and the journal names the printer; the
A4-sheet printer writes its PDF where managers download sheets from.  Paper that runs
out mid-batch leaves the rest queued, and a till's receipt is answered while a 200-label
batch prints on the same hub."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pypdfium2
import zxingcpp

from devices.sim.escpos_printer import EscposPrinterSimulator
from devices.sim.zpl_printer import ZplPrinterSimulator
from hub.throwaway import shelf_products
from tests.conftest import CloudProcess, Connect, HubProcess, until, until_device_online
from tests.stale_shelf import SHEET_PRINTER, publish_stale, store_with_a_zebra

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
    async with store_with_a_zebra(tmp_path, cloud, printer, SHEET_PRINTER) as hub:
        manager = await connect(hub, "manager-1")
        deadline = time.monotonic() + DEVICE_ONLINE_TIMEOUT_S
        for device in ("labels-1", "sheets-1"):
            await until_device_online(manager, hub, device, deadline - time.monotonic())
        await publish_stale(cloud, hub, PRODUCTS, PRICES)

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


async def test_paper_out_mid_batch_through_the_hub_leaves_the_rest_queued(
    tmp_path: Path, cloud: CloudProcess, connect: Connect
):
    printer = ZplPrinterSimulator(dpmm=8)
    async with store_with_a_zebra(tmp_path, cloud, printer) as hub:
        manager = await connect(hub, "manager-1")
        await until_device_online(manager, hub, "labels-1", DEVICE_ONLINE_TIMEOUT_S)
        await publish_stale(cloud, hub, *shelf_products(120))

        printer.paper_out_after(37)  # the roll ends with the 37th label
        stopped = await manager.request("labels-1", "print_labels", {"queue": {}}, timeout=120)
        assert stopped.error is not None and stopped.error.code == "device_error", stopped
        details = stopped.error.details or {}
        assert details["reason"] == "paper_out" and "printed 36 of 120" in stopped.error.message
        assert len(details["printed"]) == 36 and len(details["not_printed"]) == 84
        left = get(hub, "manager-1", "/api/v1/labels", limit=500).json()
        assert left["count"] == 84
        assert {label["sku"] for label in left["labels"]} == set(details["not_printed"])

        printer.paper_out = False  # a new roll
        await until(lambda: get(hub, "manager-1", "/api/v1/devices/labels-1").json()["status"] == "idle", 15, "ready")
        rest = await manager.request("labels-1", "print_labels", {"queue": {}}, timeout=120)
        assert rest.ok and rest.result is not None and rest.result["printed"] == 84, rest
        assert get(hub, "manager-1", "/api/v1/labels").json()["count"] == 0


async def test_a_receipt_is_answered_while_a_200_label_batch_prints_on_the_same_hub(
    tmp_path: Path, cloud: CloudProcess, connect: Connect
):
    labels = ZplPrinterSimulator(dpmm=8)
    labels.link_bytes_per_s = 200_000  # a real Zebra's 100 Mbit/s is not the point: the batch must last
    receipts = EscposPrinterSimulator()
    await receipts.start()
    printer = {"id": "printer-1", "kind": "receipt_printer", "driver": "network", "port": receipts.address,
               "model": "TM-T88V"}  # fmt: skip
    try:
        async with store_with_a_zebra(tmp_path, cloud, labels, printer) as hub:
            manager, till = await connect(hub, "manager-1"), await connect(hub, "till-1")
            for device in ("labels-1", "printer-1"):
                await until_device_online(manager, hub, device, DEVICE_ONLINE_TIMEOUT_S)
            await publish_stale(cloud, hub, *shelf_products(200))

            progress: list[int] = []
            manager.on_event(lambda event: progress.append(event.data["done"]) if event.type == "progress" else None)
            batch = asyncio.create_task(manager.request("labels-1", "print_labels", {"queue": {}}, timeout=300))
            await until(lambda: len(progress) >= 3, 60, "the batch under way")
            receipt = await till.request(
                "printer-1", "print", {"blocks": [{"type": "text", "text": "Чек 1"}, {"type": "cut"}]}
            )
            assert receipt.ok, receipt
            during = max(progress)
            assert not batch.done() and during < 200, f"the receipt waited for the batch ({during} of 200 labels)"
            finished = await batch
            assert finished.ok and finished.result is not None and finished.result["printed"] == 200, finished
            assert len(labels.labels) == 200 and receipts.receipts[-1].text == ["Чек 1"]
    finally:
        await receipts.stop()
