"""The demo's devices: two echo devices inside the hub, a checkout of simulated
peripherals (scanner, customer display, receipt printer and its drawer, fiscal
register, card terminal) and the back office's label printers (a Zebra speaking ZPL II,
a TSC speaking TSPL, and A4 sheets for the office printer), driven by the real drivers.
The config names each device where its simulator listens, so the two halves live here
together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.demo.ports import DemoPorts


def demo_peripheral_devices(directory: Path, ports: DemoPorts) -> list[dict[str, Any]]:
    """The shop's peripherals: what they are and where the hub finds their simulators."""
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
        # The back office's label printers, on TCP as on the shop's LAN; the A4 sheets
        # have no port: the hub writes them where managers download them (label-sheets).
        {
            "id": "labels-zpl-1",
            "kind": "label_printer",
            "port": f"tcp:127.0.0.1:{ports.zpl_printer}",
            "options": {"profile": "zebra-zd421-203"},
        },
        {
            "id": "labels-tspl-1",
            "kind": "label_printer",
            "port": f"tcp:127.0.0.1:{ports.tspl_printer}",
            "options": {"profile": "tsc-te200"},
        },
        {"id": "labels-a4-1", "kind": "label_printer", "options": {"profile": "a4-sheet"}},
    ]


class DemoPeripherals:
    """The demo's simulated peripherals, started before the hub and stopped after it."""

    def __init__(self, directory: Path, ports: DemoPorts) -> None:
        from devices.sim.control import SimulatorDesk
        from devices.sim.customer_display import LineDisplaySimulator
        from devices.sim.escpos_printer import EscposPrinterSimulator
        from devices.sim.fiscal_register import SerialFiscalRegister
        from devices.sim.scanner import SerialScannerSimulator
        from devices.sim.tspl_printer import TsplPrinterSimulator
        from devices.sim.zpl_printer import ZplPrinterSimulator
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
        # Each label comes out as a PNG at the printer's dots (203 dpi: 8 dots a mm),
        # numbered from 1 at every start, as the receipt printer's receipts are.
        self.zpl_printer = ZplPrinterSimulator(port=ports.zpl_printer, dpmm=8, labels_dir=sim / "labels-zpl-1")
        self.tspl_printer = TsplPrinterSimulator(port=ports.tspl_printer, dpmm=8, labels_dir=sim / "labels-tspl-1")

    async def start(self) -> None:
        self.scanner.start()
        self.display.start()
        await self.printer.start()
        self.register.start()
        await self.terminal.start()
        await self.zpl_printer.start()
        await self.tspl_printer.start()
        for device, kind, simulator in (
            ("scanner-1", "scanner", self.scanner),
            ("display-1", "customer_display", self.display),
            ("printer-1", "receipt_printer", self.printer),
            ("fiscal-1", "fiscal_register", self.register),
            ("terminal-1", "payment_terminal", self.terminal),
            ("labels-zpl-1", "label_printer", self.zpl_printer),
            ("labels-tspl-1", "label_printer", self.tspl_printer),
        ):
            self.desk.register(device, kind, simulator.desk_handlers())
        await self.desk.start()

    async def stop(self) -> None:
        await self.desk.stop()
        await self.printer.stop()
        await self.terminal.stop()
        await self.zpl_printer.stop()
        await self.tspl_printer.stop()
        for simulator in (self.display, self.scanner, self.register):
            if simulator.running:
                simulator.stop()
        self.register.register.close()
