"""A till prints a receipt over MQTT through a real hub and opens the drawer; a kiosk may not.

The hub runs as its own process with its own Mosquitto and connects to the simulated
network printer (started first, on a free port) from its config, as it would to a
printer's port 9100 on the shop's LAN.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bus.payloads import ErrorCode, Event
from devices.sim.escpos_printer import EscposPrinterSimulator
from tests.conftest import Connect, start_hub, until, until_device_online

#: The hub opens its devices after it reports ready; the printer is up well within this.
DEVICE_ONLINE_TIMEOUT_S = 5.0

#: Longest a test waits for an event to reach a client.
HEARD_TIMEOUT_S = 3.0

RECEIPT = [
    {"type": "text", "text": "Магазин «Ромашка»", "bold": True, "align": "center"},
    {"type": "kv", "key": "Молоко 1л", "value": "89.90"},
    {"type": "kv", "key": "ИТОГО", "value": "89.90", "bold": True},
    {"type": "barcode", "code": "4601234567893"},
    {"type": "qr", "data": "https://shop.example/r/42"},
    {"type": "cut"},
]


async def test_a_till_prints_and_opens_the_drawer_and_a_kiosk_cannot_touch_the_money(tmp_path: Path, connect: Connect):
    printer = EscposPrinterSimulator(receipts_dir=tmp_path / "receipts", drawer_open_s=0.5)
    await printer.start()
    devices = [
        {
            "id": "printer-1",
            "kind": "receipt_printer",
            "driver": "network",
            "port": printer.address,
            "model": "TM-T88V",
        },
        {
            "id": "drawer-1",
            "kind": "cash_drawer",
            "driver": "network",
            "port": printer.address,
            "options": {"drawer_pin": 2},
        },
    ]
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", devices=devices)
    try:
        till, kiosk = await connect(hub, "till-1"), await connect(hub, "kiosk-1")
        deadline = time.monotonic() + DEVICE_ONLINE_TIMEOUT_S  # for both
        for device in ("printer-1", "drawer-1"):
            status = await until_device_online(till, hub, device, deadline - time.monotonic())
        assert status.result == {"open": False, "sensor": True}

        heard: list[Event] = []
        till.on_event(heard.append)
        printed = await till.request("printer-1", "print", {"blocks": RECEIPT, "open_drawer": True})
        assert printed.ok and printed.result is not None and printed.result["printed"], printed
        [receipt] = printer.receipts
        assert receipt.text == ["Магазин «Ромашка»", "Молоко 1л" + " " * 28 + "89.90", "ИТОГО" + " " * 32 + "89.90"]
        assert receipt.barcodes == [("EAN13", "4601234567893")] and receipt.qr == ["https://shop.example/r/42"]
        assert receipt.drawer_kicks == 1
        assert "Магазин «Ромашка»" in (tmp_path / "receipts" / "receipt-0001.txt").read_text(encoding="utf-8")
        await until(
            lambda: any(e.type == "output_complete" for e in heard),
            timeout=HEARD_TIMEOUT_S,
            what="output_complete at the till",
        )

        wrong = await till.request("printer-1", "print", {"blocks": [{"type": "barcode", "code": "4601234567890"}]})
        assert wrong.error is not None and wrong.error.code == ErrorCode.INVALID_REQUEST
        assert "check digit" in wrong.error.message and len(printer.receipts) == 1

        await asyncio.sleep(0.6)  # the cashier shut the drawer the receipt opened
        opened = await till.request("drawer-1", "open")
        assert opened.ok and opened.result == {"kicked": True, "opened": True}, opened
        assert printer.drawer_kicks == 2

        for target, action in (("printer-1", "open_drawer"), ("drawer-1", "open"), ("drawer-1", "status")):
            refused = await kiosk.request(target, action)
            assert refused.error is not None and refused.error.code == ErrorCode.FORBIDDEN, (target, action, refused)
        assert printer.drawer_kicks == 2
        slip = await kiosk.request(
            "printer-1", "print", {"blocks": [{"type": "text", "text": "Заказ 17"}, {"type": "cut"}]}
        )
        assert slip.ok, "a kiosk may still print a slip"
        assert printer.receipts[-1].text == ["Заказ 17"]
    finally:
        await asyncio.to_thread(hub.cleanup)
        await printer.stop()
