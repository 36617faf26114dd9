"""The cash drawer: kicked through the simulated printer and watched by its sensor, or on its own pty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices import cash_drawer as cash_drawer_module
from devices.actor import DeviceSpec, Job
from devices.cash_drawer import CashDrawer, CashDrawerOptions
from devices.sim.escpos_printer import EscposPrinterSimulator
from devices.sim.pty import PtyDevice
from devices.supervisor import DeviceSupervisor
from tests.conftest import until
from tests.devices.ports import RecordingPort

SETTLE_S = 3.0


async def run(device: CashDrawer, action: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    request = Job(client="till-1", action=action, args=args or {}, request_id=f"r-{time.monotonic_ns()}")
    device.submit(request)
    return await asyncio.wait_for(request.future, SETTLE_S)


async def start_drawer(spec: DeviceSpec) -> tuple[CashDrawer, RecordingPort, DeviceSupervisor]:
    port = RecordingPort()
    supervisor = DeviceSupervisor(lambda spec: port)
    supervisor.start([spec])
    device = supervisor.get(spec.id)
    assert isinstance(device, CashDrawer)
    await until(lambda: device.status == "idle", timeout=SETTLE_S)
    return device, port, supervisor


def events(port: RecordingPort) -> list[str]:
    return [e.type for e in port.events if e.type in {"opened", "closed", "left_open"}]


@pytest.fixture
async def printer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[EscposPrinterSimulator]:
    monkeypatch.setattr(cash_drawer_module, "DRAWER_POLL_S", 0.05)
    sim = EscposPrinterSimulator(drawer_open_s=0.3)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_kicked_through_the_printer_it_reports_opened_then_closed(printer: EscposPrinterSimulator):
    drawer, port, supervisor = await start_drawer(
        DeviceSpec(id="drawer-1", kind="cash_drawer", driver="network", port=printer.address)
    )
    try:
        await until(lambda: drawer.drawer_open is False, timeout=SETTLE_S)  # read as it came online
        before = len(printer.received)
        result = await run(drawer, "open")
        assert result == {"kicked": True, "opened": True}
        assert bytes(printer.received[before:]).startswith(b"\x1bp\x00\x32\x32")  # ESC p, pin 2, 100 ms
        assert printer.drawer_kicks == 1 and events(port) == ["opened"]
        await until(lambda: events(port) == ["opened", "closed"], timeout=SETTLE_S)  # the cashier pushed it shut
        closed = next(e for e in port.events if e.type == "closed")
        assert 0.2 <= closed.data["open_for_s"] <= 1.0
        assert await run(drawer, "status") == {"open": False, "sensor": True}
    finally:
        await supervisor.stop()


async def test_a_drawer_left_open_is_reported_once_and_its_closing_still_seen(printer: EscposPrinterSimulator):
    printer.drawer_open_s = None  # nobody shuts it
    drawer, port, supervisor = await start_drawer(
        DeviceSpec(
            id="drawer-1",
            kind="cash_drawer",
            driver="network",
            port=printer.address,
            options={"watch_s": 0.3, "drawer_pin": 5},
        )
    )
    try:
        await run(drawer, "open")
        assert printer.received.find(b"\x1bp\x01") >= 0  # pin 5
        await until(lambda: events(port) == ["opened", "left_open"], timeout=SETTLE_S)
        await asyncio.sleep(0.2)
        assert events(port) == ["opened", "left_open"]  # once, not every poll
        printer.close_drawer()
        assert (await run(drawer, "status"))["open"] is False
        assert events(port) == ["opened", "left_open", "closed"]
    finally:
        await supervisor.stop()


async def test_a_drawer_on_its_own_serial_port_gets_its_kick_bytes(tmp_path: Path):
    class BareDrawer(PtyDevice):
        def __init__(self, link: Path) -> None:
            super().__init__(link)
            self.got = bytearray()

        def received(self, data: bytes) -> None:
            self.got += data

    bare = BareDrawer(tmp_path / "by-id" / "usb-cash-drawer")
    bare.start()
    drawer, port, supervisor = await start_drawer(
        DeviceSpec(
            id="drawer-2",
            kind="cash_drawer",
            driver="serial",
            port=str(bare.link),
            options={"through": "own_port", "kick_hex": "07"},
        )
    )
    try:
        assert await run(drawer, "open") == {"kicked": True, "opened": None}  # no sensor to ask
        await until(lambda: bytes(bare.got) == b"\x07", timeout=SETTLE_S)
        assert drawer.capabilities["sensor"] is False and events(port) == []
    finally:
        await supervisor.stop()
        bare.stop()


async def test_a_printer_gone_takes_the_drawer_offline(printer: EscposPrinterSimulator):
    drawer, _port, supervisor = await start_drawer(
        DeviceSpec(id="drawer-1", kind="cash_drawer", driver="network", port=printer.address)
    )
    try:
        await printer.stop()
        with pytest.raises(DeviceError) as gone:
            await run(drawer, "open")
        assert gone.value.code == ErrorCode.DEVICE_OFFLINE
        await until(lambda: drawer.status == "offline", timeout=SETTLE_S)
    finally:
        await supervisor.stop()


def test_options_name_what_is_wrong():
    with pytest.raises(ValueError, match="needs kick_hex"):
        CashDrawerOptions.model_validate({"through": "own_port"})
    with pytest.raises(ValueError, match="hex"):
        CashDrawerOptions.model_validate({"through": "own_port", "kick_hex": "zz"})
    with pytest.raises(ValueError):
        CashDrawerOptions.model_validate({"drawer_pin": 3})
