"""The receipt printer actor against the simulated printer, over real TCP (and a pty, a file).

The actor runs under a real supervisor; the ``RecordingPort`` stands where the hub's bus
port would be.  Nothing is mocked: the simulator parses the bytes the actor sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import receipt_printer as receipt_printer_module
from devices import supervisor as supervisor_module
from devices.actor import DeviceSpec, Job
from devices.escpos_status import FULL_STATUS_REQUEST
from devices.receipt_printer import ReceiptPrinter
from devices.sim.escpos_printer import EscposPrinterSimulator, PrintedLine, SerialEscposPrinter
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort
from tests.devices.test_escpos_receipt import SMALL_RECEIPT, SMALL_RECEIPT_BYTES

#: Longest a test waits for the actor to reach a state.
SETTLE_S = 3.0

RECEIPT = [
    {"type": "text", "text": "Магазин «Ромашка»", "bold": True, "align": "center", "double_height": True},
    {"type": "line"},
    {"type": "kv", "key": "Хлеб бородинский", "value": "45.00"},
    {"type": "kv", "key": "ИТОГО", "value": "45.00", "bold": True},
    {"type": "barcode", "code": "4601234567893"},
    {"type": "qr", "data": "https://ofd.example/t=20240101T1200&s=45.00"},
    {"type": "cut"},
]


def job(action: str, args: dict[str, Any] | None = None) -> Job:
    return Job(client="till-1", action=action, args=args or {}, request_id=f"r-{action}-{time.monotonic_ns()}")


async def run(device: ReceiptPrinter, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    request = job(action, args)
    device.submit(request)
    return await asyncio.wait_for(request.future, SETTLE_S)


class Rig:
    """A simulated printer and the actor driving it."""

    def __init__(
        self, sim: EscposPrinterSimulator, device: ReceiptPrinter, port: RecordingPort, supervisor: DeviceSupervisor
    ):
        self.sim, self.device, self.port, self.supervisor = sim, device, port, supervisor

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.port.events if e.type == type_]


async def start_printer(spec: DeviceSpec) -> tuple[ReceiptPrinter, RecordingPort, DeviceSupervisor]:
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([spec])
    device = supervisor.get(spec.id)
    assert isinstance(device, ReceiptPrinter)
    return device, port, supervisor


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setattr(receipt_printer_module, "ERROR_POLL_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MIN_S", 0.05)
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF_MAX_S", 0.1)
    sim = EscposPrinterSimulator()
    await sim.start()
    device, port, supervisor = await start_printer(
        DeviceSpec(
            id="printer-1", kind="receipt_printer", driver="network", port=f"tcp://{sim.address}", model="TM-T88V"
        )
    )
    try:
        # Online and the watch's first look taken: two full questions of four requests each.
        await until(lambda: device.status == "idle" and sim.status_requests >= 2 * 4, timeout=SETTLE_S)
        yield Rig(sim, device, port, supervisor)
    finally:
        await supervisor.stop()
        await sim.stop()


async def test_a_cyrillic_receipt_with_barcode_and_qr_comes_out_as_sent(rig: Rig):
    result = await run(rig.device, "print", {"blocks": RECEIPT})
    assert result["printed"] and result["paper"] == "ok" and result["cut"]
    [receipt] = rig.sim.receipts
    assert receipt.text == [
        "Магазин «Ромашка»",
        "-" * 42,
        "Хлеб бородинский" + " " * 21 + "45.00",
        "ИТОГО" + " " * 32 + "45.00",
    ]
    assert receipt.lines[0] == PrintedLine("Магазин «Ромашка»", align="center", bold=True, width=1, height=2)
    assert receipt.lines[3].bold
    assert receipt.barcodes == [("EAN13", "4601234567893")]
    assert receipt.qr == ["https://ofd.example/t=20240101T1200&s=45.00"]
    assert receipt.cut == "partial"
    assert not rig.sim.unknown
    # The requester hears it is done, and so does everyone watching the device.
    [(client, done)] = [(c, e) for c, e in rig.port.client_events if e.type == "output_complete"]
    assert client == "till-1" and done.data["bytes"] == result["bytes"]
    assert rig.device.counters["receipts_printed"] == 1


async def test_the_printer_gets_exactly_the_receipt_bytes_in_one_piece_between_status_questions(rig: Rig):
    before = len(rig.sim.received)
    await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    sent = bytes(rig.sim.received[before:])
    assert sent == FULL_STATUS_REQUEST + SMALL_RECEIPT_BYTES + FULL_STATUS_REQUEST
    assert rig.sim.receipts[-1].text == ["Чек", "Итого" + " " * 32 + "10.00"]


async def test_a_wrong_check_digit_is_refused_before_anything_reaches_the_printer(rig: Rig):
    before = len(rig.sim.received)
    with pytest.raises(DeviceError) as refused:
        rig.device.submit(
            job("print", {"blocks": [{"type": "text", "text": "Чек"}, {"type": "barcode", "code": "4601234567890"}]})
        )
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert "blocks.1.barcode" in refused.value.message and "wrong check digit" in refused.value.message
    assert rig.device.queue_depth == 0
    await asyncio.sleep(0.1)
    assert len(rig.sim.received) == before and rig.sim.receipts == [] and rig.sim.current.lines == []


async def test_out_of_paper_the_till_hears_why_and_the_device_shows_error_until_a_roll_is_loaded(rig: Rig):
    rig.sim.paper_out = True
    before = len(rig.sim.received)
    with pytest.raises(DeviceError) as failed:
        await run(rig.device, "print", {"blocks": RECEIPT})
    assert failed.value.code == ErrorCode.DEVICE_ERROR
    assert "out of paper" in failed.value.message
    assert failed.value.details is not None and failed.value.details["reason"] == "paper_out"
    assert bytes(rig.sim.received[before:]) == FULL_STATUS_REQUEST, "the receipt was sent to a printer without paper"
    assert rig.device.status == "error"
    assert rig.device.error is not None and rig.device.error["code"] == "paper_out"
    assert len(rig.events("paper_out")) == 1
    await asyncio.sleep(0.05)
    assert rig.port.states[-1].status == "error" and rig.port.states[-1].error["code"] == "paper_out"

    with pytest.raises(DeviceError):  # still out: still refused, but no second alarm
        await run(rig.device, "print", {"blocks": RECEIPT})
    assert len(rig.events("paper_out")) == 1

    rig.sim.paper_out = False  # a new roll: the watch notices without anyone printing
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S)
    assert rig.device.error is None
    assert rig.events("paper_ok") == [{"cleared": "paper_out"}]
    await run(rig.device, "print", {"blocks": RECEIPT})
    assert len(rig.sim.receipts) == 1 and rig.sim.receipts[0].qr


async def test_paper_running_out_mid_receipt_tells_the_till_to_print_it_again(rig: Rig):
    rig.sim.paper_lines_left = 2  # the roll ends two lines into the receipt
    with pytest.raises(DeviceError) as failed:
        await run(rig.device, "print", {"blocks": RECEIPT})
    assert failed.value.code == ErrorCode.DEVICE_ERROR
    assert failed.value.details is not None and failed.value.details["reason"] == "paper_out"
    assert failed.value.details["bytes_sent"] > 0 and "print it again" in failed.value.message
    assert rig.sim.current.text == ["Магазин «Ромашка»", "-" * 42] and rig.sim.receipts == []
    assert rig.device.status == "error" and rig.events("paper_out")
    assert not rig.port.client_events, "no output_complete for a receipt cut short"


async def test_paper_back_lets_the_very_next_job_print(rig: Rig, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(receipt_printer_module, "ERROR_POLL_S", 60.0)  # no help from the watch
    rig.sim.paper_out = True
    with pytest.raises(DeviceError):
        await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    rig.sim.paper_out = False
    await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    assert rig.device.status == "idle" and [r.text[0] for r in rig.sim.receipts] == ["Чек"]
    assert rig.events("paper_ok")


async def test_paper_near_its_end_prints_and_warns_once(rig: Rig):
    rig.sim.paper_near_end = True
    first = await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    assert first["paper"] == "near_end"
    assert len(rig.sim.receipts) == 2
    assert len(rig.events("paper_low")) == 1
    assert rig.device.status == "idle"


async def test_an_open_cover_is_an_error_with_its_own_reason(rig: Rig):
    rig.sim.cover_open = True
    with pytest.raises(DeviceError) as failed:
        await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    assert failed.value.details is not None and failed.value.details["reason"] == "cover_open"
    assert rig.device.error is not None and rig.device.error["code"] == "cover_open"
    rig.sim.cover_open = False
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S)
    assert rig.events("ready") == [{"cleared": "cover_open"}]


async def test_a_printer_that_goes_away_is_offline_and_comes_back_when_it_returns(rig: Rig):
    await rig.sim.stop()
    with pytest.raises(DeviceError) as gone:
        await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    assert gone.value.code == ErrorCode.DEVICE_OFFLINE
    await until(lambda: rig.device.status == "offline", timeout=SETTLE_S)
    with pytest.raises(DeviceError) as refused:
        rig.device.submit(job("print", {"blocks": SMALL_RECEIPT}))
    assert refused.value.code == ErrorCode.DEVICE_OFFLINE
    await rig.sim.start()  # plugged back in, same address
    await until(lambda: rig.device.status == "idle", timeout=SETTLE_S)
    assert rig.supervisor.restarts["printer-1"] >= 1
    await run(rig.device, "print", {"blocks": SMALL_RECEIPT})
    assert [r.text[0] for r in rig.sim.receipts] == ["Чек"]
    assert [e.type for e in rig.port.events if e.type in {"online", "offline"}][-2:] == ["offline", "online"]


async def test_status_cut_and_drawer_actions(rig: Rig):
    status = await run(rig.device, "status")
    assert status == {
        "online": True,
        "cover_open": False,
        "paper": "ok",
        "drawer_open": False,
        "error": None,
        "answered": True,
        "problem": None,
    }
    rig.sim.drawer_open_s = None  # the cashier leaves it open
    assert await run(rig.device, "open_drawer") == {"kicked": True, "pin": 2}
    await until(lambda: rig.sim.drawer_kicks == 1, timeout=SETTLE_S)
    assert (await run(rig.device, "status"))["drawer_open"] is True
    await run(rig.device, "print", {"blocks": [{"type": "text", "text": "x"}]})
    assert await run(rig.device, "cut", {"mode": "full"}) == {"cut": "full"}
    await until(lambda: len(rig.sim.receipts) == 1, timeout=SETTLE_S)
    assert rig.sim.receipts[0].cut == "full" and rig.sim.receipts[0].drawer_kicks == 1


async def test_a_receipt_can_open_the_drawer_as_it_starts(rig: Rig):
    await run(rig.device, "print", {"blocks": SMALL_RECEIPT, "open_drawer": True})
    assert rig.sim.drawer_kicks == 1 and rig.device.counters["drawer_kicks"] == 1


async def test_an_image_too_wide_for_the_paper_is_refused_before_sending(rig: Rig):
    from tests.devices.test_escpos_receipt import png

    before = len(rig.sim.received)
    with pytest.raises(DeviceError) as refused:
        await run(rig.device, "print", {"blocks": [{"type": "image", "png_base64": png(600, 8)}]})
    assert refused.value.code == ErrorCode.INVALID_REQUEST and "512" in refused.value.message
    assert len(rig.sim.received) == before
    await run(
        rig.device,
        "print",
        {"blocks": [{"type": "image", "png_base64": png(256, 8), "center": False}, {"type": "cut"}]},
    )
    assert rig.sim.receipts[0].images == [(256, 8)]


async def test_capabilities_come_from_the_profile():
    spec = DeviceSpec(id="p", kind="receipt_printer", driver="network", port="127.0.0.1:9", model="TH230")
    device = ReceiptPrinter(spec, RecordingPort())
    assert device.capabilities["profile"] == "TH230"
    assert device.capabilities["code_page_number"] == 7 and device.capabilities["columns"] == 44
    unknown_model = ReceiptPrinter(
        DeviceSpec(id="q", kind="receipt_printer", driver="file", port="/dev/null", model="Acme 3000"), RecordingPort()
    )
    assert unknown_model.capabilities["profile"] == "TM-T88V" and unknown_model.capabilities["status"] is False


async def test_a_bad_address_keeps_the_device_offline_with_the_reason(monkeypatch: pytest.MonkeyPatch):
    device, port, supervisor = await start_printer(
        DeviceSpec(id="p", kind="receipt_printer", driver="network", port="tcp://")
    )
    try:
        await until(lambda: device.error is not None, timeout=SETTLE_S)
        assert device.status == "offline" and "bad driver/port" in device.error["message"]
    finally:
        await supervisor.stop()


async def test_the_serial_driver_prints_through_a_pty(tmp_path: Path):
    sim = SerialEscposPrinter(tmp_path / "by-id" / "usb-Epson_TM-T20III-if00")
    sim.start()
    device, _port, supervisor = await start_printer(
        DeviceSpec(
            id="printer-2", kind="receipt_printer", driver="serial", port=str(sim.link), options={"baudrate": 38400}
        )
    )
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S)
        result = await run(device, "print", {"blocks": RECEIPT})
        assert result["paper"] == "ok"  # the status questions went over the pty too
        await until(lambda: len(sim.printer.receipts) == 1, timeout=SETTLE_S)
        assert sim.printer.receipts[0].text[0] == "Магазин «Ромашка»"
        assert sim.printer.receipts[0].barcodes == [("EAN13", "4601234567893")]
    finally:
        await supervisor.stop()
        sim.stop()


async def test_the_file_driver_writes_the_bytes_and_prints_without_status(tmp_path: Path):
    out = tmp_path / "lp0"
    out.touch()
    device, _port, supervisor = await start_printer(
        DeviceSpec(id="printer-3", kind="receipt_printer", driver="file", port=str(out))
    )
    try:
        await until(lambda: device.status == "idle", timeout=SETTLE_S)
        result = await run(device, "print", {"blocks": SMALL_RECEIPT})
        assert result["paper"] == "unknown"  # never "ok": nobody could ask
        assert out.read_bytes() == SMALL_RECEIPT_BYTES
        assert (await run(device, "status"))["answered"] is False
    finally:
        await supervisor.stop()
