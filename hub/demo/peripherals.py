"""The demo's devices: two echo devices inside the hub, and a checkout of simulated
peripherals (scanner, customer display, receipt printer and its drawer, fiscal
register, card terminal) driven by the real drivers.  The config names each device
where its simulator listens, so the two halves live here together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.demo.ports import DemoPorts


def demo_peripheral_devices(directory: Path, ports: DemoPorts) -> list[dict[str, Any]]:
    """The checkout's peripherals: what they are and where the hub finds their simulators."""
    dev = directory / "dev"
    printer = f"127.0.0.1:{ports.printer}"
    return [
        {
            "id": "scanner-1",
            "kind": "scanner",
            "driver": "serial",
            "port": str(dev / "scanner-1"),
            "options": {"serial_terminator": "CR"},
        },
        {
            "id": "display-1",
            "kind": "customer_display",
            "port": str(dev / "display-1"),
            "options": {"code_page": "cp866"},
        },
        {
            "id": "printer-1",
            "kind": "receipt_printer",
            "driver": "network",
            "port": printer,
            "model": "TM-T88V",
            "options": {"drawer_pin": 2},
        },
        {"id": "drawer-1", "kind": "cash_drawer", "driver": "network", "port": printer, "options": {"drawer_pin": 2}},
        {"id": "fiscal-1", "kind": "fiscal_register", "port": str(dev / "fiscal-1")},
        {
            "id": "terminal-1",
            "kind": "payment_terminal",
            "options": {"host": "127.0.0.1", "port": ports.terminal, "currency": "EUR"},
        },
    ]


class DemoPeripherals:
    """The demo's simulated peripherals, started before the hub and stopped after it."""

    def __init__(self, directory: Path, ports: DemoPorts) -> None:
        from devices.sim.control import SimulatorDesk
        from devices.sim.customer_display import LineDisplaySimulator
        from devices.sim.escpos_printer import EscposPrinterSimulator
        from devices.sim.fiscal_register import SerialFiscalRegister
        from devices.sim.scanner import SerialScannerSimulator
        from devices.sim.zvt_terminal import ZvtTerminalSimulator

        dev, sim = directory / "dev", directory / "sim"
        self.desk = SimulatorDesk(directory / "sim.sock")
        self.scanner = SerialScannerSimulator(dev / "scanner-1", terminator="CR")
        self.display = LineDisplaySimulator(dev / "display-1", state_file=sim / "display-1.txt")
        self.printer = EscposPrinterSimulator(port=ports.printer, receipts_dir=sim / "printer-1")
        # Its memory (numbering, shift, the fiscal storage's documents) outlives the demo,
        # as a real register's outlives the hub: a restarted demo goes on numbering.
        self.register = SerialFiscalRegister(dev / "fiscal-1", state_dir=sim / "fiscal-1")
        self.terminal = ZvtTerminalSimulator(port=ports.terminal)

    async def start(self) -> None:
        self.scanner.start()
        self.display.start()
        await self.printer.start()
        self.register.start()
        await self.terminal.start()
        for device, kind, simulator in (
            ("scanner-1", "scanner", self.scanner),
            ("display-1", "customer_display", self.display),
            ("printer-1", "receipt_printer", self.printer),
            ("fiscal-1", "fiscal_register", self.register),
            ("terminal-1", "payment_terminal", self.terminal),
        ):
            self.desk.register(device, kind, simulator.desk_handlers())
        await self.desk.start()

    async def stop(self) -> None:
        await self.desk.stop()
        await self.printer.stop()
        await self.terminal.stop()
        for simulator in (self.display, self.scanner, self.register):
            if simulator.running:
                simulator.stop()
        self.register.register.close()
