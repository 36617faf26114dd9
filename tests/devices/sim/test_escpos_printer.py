"""The simulated receipt printer over real TCP: it prints what it is sent and tells its state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import serial

from devices.sim.escpos_printer import EscposPrinterSimulator, PrintedLine, SerialEscposPrinter
from tests.conftest import until

#: How long a test waits for the simulator to have taken in what was sent.
SETTLE_S = 2.0

RECEIPT = (
    b"\x1b@\x1bt\x11"  # init, CP866
    + b"\x1d!\x01\x1bE\x01\x1ba\x01" + "Магазин".encode("cp866") + b"\n"  # double height, bold, centred
    + b"\x1d!\x00\x1bE\x00\x1ba\x00" + "Хлеб 45.00".encode("cp866") + b"\n"
    + b"\x1ba\x01\x1dkC\x0d4601234567893"  # EAN-13, form B
    + b"\x1d(k\x11\x001P0https://x.ru/1\x1d(k\x03\x001Q0"  # QR store + print
    + b"\x1bd\x06\x1dV\x01"  # feed, partial cut
)  # fmt: skip


@pytest.fixture
async def printer(tmp_path: Path) -> AsyncIterator[EscposPrinterSimulator]:
    sim = EscposPrinterSimulator(receipts_dir=tmp_path / "receipts", drawer_open_s=0.3)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def connect(sim: EscposPrinterSimulator) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", sim.port)


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, replies: int) -> bytes:
    writer.write(request)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(replies), SETTLE_S)


FULL_STATUS = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"


async def test_a_receipt_is_rendered_up_to_its_cut_and_written_to_a_file(
    printer: EscposPrinterSimulator, tmp_path: Path
):
    reader, writer = await connect(printer)
    writer.write(RECEIPT + b"\x1bt\x11" + "Второй".encode("cp866") + b"\n\x1dV\x00")
    await writer.drain()
    await until(lambda: len(printer.receipts) == 2, timeout=SETTLE_S)
    first, second = printer.receipts
    assert first.text == ["Магазин", "Хлеб 45.00"]
    assert first.lines[0] == PrintedLine("Магазин", align="center", bold=True, width=1, height=2)
    assert first.barcodes == [("EAN13", "4601234567893")]
    assert first.qr == ["https://x.ru/1"]
    assert first.cut == "partial"
    assert second.text == ["Второй"] and second.cut == "full"
    written = (tmp_path / "receipts" / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "Магазин".center(printer.columns).rstrip() in written.splitlines()
    assert "[EAN13 4601234567893]" in written and "[QR https://x.ru/1]" in written and "partial cut" in written
    assert (tmp_path / "receipts" / "receipt-0002.txt").exists()
    writer.close()


async def test_status_replies_follow_the_simulated_paper_cover_and_drawer(printer: EscposPrinterSimulator):
    reader, writer = await connect(printer)
    assert await ask(reader, writer, FULL_STATUS, 4) == b"\x12\x12\x12\x12"
    printer.paper_near_end = True
    assert (await ask(reader, writer, b"\x10\x04\x04", 1))[0] & 0x0C == 0x0C
    printer.paper_out = True
    printer_status, offline_cause, _, roll = await ask(reader, writer, FULL_STATUS, 4)
    assert printer_status & 0x08 and offline_cause & 0x20 and roll & 0x60 == 0x60
    printer.paper_out = printer.paper_near_end = False
    printer.cover_open = True
    assert (await ask(reader, writer, b"\x10\x04\x02", 1))[0] & 0x04
    printer.cover_open = False
    writer.write(b"\x1bp\x00\x32\x32")  # kick: the drawer opens, then the cashier shuts it
    assert (await ask(reader, writer, b"\x10\x04\x01", 1))[0] & 0x04
    assert printer.drawer_kicks == 1
    await asyncio.sleep(0.35)
    assert not (await ask(reader, writer, b"\x10\x04\x01", 1))[0] & 0x04
    assert printer.status_requests == 12  # one per DLE EOT
    writer.close()


async def test_nothing_is_printed_without_paper(printer: EscposPrinterSimulator):
    printer.paper_out = True
    reader, writer = await connect(printer)
    writer.write(RECEIPT)
    assert await ask(reader, writer, b"\x10\x04\x04", 1) == b"\x7e"  # out (and so past the near-end mark too)
    assert printer.receipts == [] and printer.current.lines == []
    assert printer.lost_commands > 0
    writer.close()


async def test_offline_closes_connections_and_refuses_new_ones_until_back(printer: EscposPrinterSimulator):
    reader, writer = await connect(printer)
    printer.offline = True
    assert await asyncio.wait_for(reader.read(1), SETTLE_S) == b""  # closed under it
    reader, writer = await connect(printer)
    assert await asyncio.wait_for(reader.read(1), SETTLE_S) == b""  # let in, then dropped
    printer.offline = False
    reader, writer = await connect(printer)
    assert await ask(reader, writer, b"\x10\x04\x01", 1) == b"\x12"
    writer.close()


async def test_stopped_is_unplugged_and_started_again_on_the_same_port(printer: EscposPrinterSimulator):
    port = printer.port
    await printer.stop()
    with pytest.raises(ConnectionRefusedError):
        await connect(printer)
    await printer.start()
    assert printer.port == port
    reader, writer = await connect(printer)
    assert await ask(reader, writer, b"\x10\x04\x01", 1) == b"\x12"
    writer.close()


async def test_a_slow_printer_takes_its_time(printer: EscposPrinterSimulator):
    printer.slow_ms = 200
    reader, writer = await connect(printer)
    started = time.monotonic()
    assert await ask(reader, writer, b"\x10\x04\x01", 1) == b"\x12"
    assert time.monotonic() - started >= 0.2
    writer.close()


def test_the_same_printer_on_a_pty_for_the_serial_driver(tmp_path: Path):
    device = SerialEscposPrinter(tmp_path / "by-id" / "usb-Epson_TM-T20III")
    device.start()
    port = serial.serial_for_url(str(device.link), timeout=2)
    try:
        port.write(RECEIPT + b"\x10\x04\x04")
        assert port.read(1) == b"\x12"  # answered after the receipt: everything before it was taken in
        assert device.printer.receipts[0].text == ["Магазин", "Хлеб 45.00"]
    finally:
        port.close()
        device.stop()


def test_the_simulator_desk_can_flip_its_failures():
    sim = EscposPrinterSimulator()
    handlers = sim.desk_handlers()
    assert handlers["paper_out"]({})["paper_out"] is True and sim.paper_out
    assert handlers["paper_in"]({})["paper_out"] is False
    assert handlers["slow"]({"ms": 50})["slow_ms"] == 50
    sim.receive(RECEIPT)
    assert "Магазин" in handlers["receipts"]({"count": 1})["receipts"][0]
