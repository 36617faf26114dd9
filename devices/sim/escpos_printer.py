"""A simulated ESC/POS receipt printer on a real TCP socket (or a pty, for the serial driver).

It reads what the hub sends with the same framing a printer uses (``escpos_parser``),
keeps a printer's state (code page, bold, size, alignment, paper, cover, drawer) and
"prints": every receipt, up to each cut, becomes a ``SimulatedReceipt`` holding its text
lines, barcodes, QR codes and images, and a plain-text rendering that is also written
to ``receipts_dir`` (``receipt-0001.txt``, …) when one is given.  It answers the
real-time status requests (``DLE EOT n``, ``GS r n``) from the simulated state.

Failures are attributes to flip while it runs: ``paper_out``, ``paper_near_end``,
``paper_lines_left`` (the roll ends after that many more lines), ``cover_open``, ``offline`` (connections are closed and refused), ``slow_ms`` (a pause
before each chunk is taken in).  ``stop()`` then ``start()`` is an unplugged printer
coming back on the same port.

    printer = EscposPrinterSimulator(receipts_dir=Path("receipts"))
    await printer.start()          # printer.port is now the port it listens on
    ...                            # hub config: driver = "network", port = f"127.0.0.1:{printer.port}"
    await printer.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder

from devices.sim.escpos_parser import (
    Align,
    Barcode,
    Bold,
    CharacterSize,
    Command,
    Cut,
    DrawerKick,
    EscposParser,
    Feed,
    Ignored,
    Initialize,
    LineFeed,
    PrintMode,
    RasterImage,
    SelectCodePage,
    StatusRequest,
    Text,
    TransmitStatus,
    TwoDimensionalCode,
    Unknown,
)
from devices.sim.pty import PtyDevice
from devices.sim.tcp import TcpDevice

log = logging.getLogger(__name__)

#: The model simulated unless told: the receipt printer most shops have, CP866 at 17.
DEFAULT_PROFILE = "TM-T88V"

#: How long a kicked drawer stays open before the simulated cashier pushes it shut.
DRAWER_OPEN_S = 1.0


#: Largest read from a connection at once.
READ_CHUNK = 65536

#: Dots one line of text takes at the default line spacing (1/6 inch at 180 dpi):
#: how ``ESC J`` feeds turn into blank lines in the rendering.
DOTS_PER_LINE = 30

#: The QR symbol number in ``GS ( k`` (48 is PDF417); function 80 stores the data, 81 prints it.
QR_SYMBOL, STORE_DATA, PRINT_SYMBOL = 49, 80, 81

# Status bytes: bits 1 and 4 always set for DLE EOT; GS r has bit 4 clear.
_EOT_BASE = 0x12


@dataclass(frozen=True, slots=True)
class PrintedLine:
    text: str
    align: str = "left"
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass
class SimulatedReceipt:
    """The paper between two cuts."""

    number: int
    lines: list[PrintedLine] = field(default_factory=list)
    barcodes: list[tuple[str, str]] = field(default_factory=list)
    qr: list[str] = field(default_factory=list)
    #: (width, height) in dots of each raster image.
    images: list[tuple[int, int]] = field(default_factory=list)
    #: "partial", "full", or None while it is still on the roll.
    cut: str | None = None
    drawer_kicks: int = 0
    #: The receipt as a person would see it, one string per printed row.
    paper: list[str] = field(default_factory=list)

    @property
    def text(self) -> list[str]:
        """The text lines as printed, without styles."""
        return [line.text for line in self.lines]

    def render(self) -> str:
        return "\n".join(self.paper) + "\n"


class EscposPrinterSimulator(TcpDevice):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        profile: str = DEFAULT_PROFILE,
        receipts_dir: Path | None = None,
        drawer_open_s: float | None = DRAWER_OPEN_S,
    ) -> None:
        super().__init__(host=host, port=port)
        self.profile = profile
        self.receipts_dir = receipts_dir
        #: How long a kicked drawer stays open; None: until ``close_drawer()``.
        self.drawer_open_s = drawer_open_s
        profile_data = get_profile(profile)
        self.columns: int = profile_data.get_columns("a")
        self._pages = {int(number): name for name, number in profile_data.get_code_pages().items()}
        self._tables: dict[int, list[str]] = {}

        # Failure modes, flipped at will.
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.slow_ms = 0
        #: Lines left on the roll; the paper runs out after that many more (None: endless).
        self.paper_lines_left: int | None = None

        # What happened, for tests and the demo.
        self.received = bytearray()
        self.receipts: list[SimulatedReceipt] = []
        self.current = SimulatedReceipt(number=1)
        self.status_requests = 0
        self.lost_commands = 0
        self.unknown: list[bytes] = []
        self.drawer_kicks = 0

        self._drawer_opened_at: float | None = None
        self._parser = EscposParser()
        self._writers: set[asyncio.StreamWriter] = set()
        self._reset_modes()

    # -- the socket -------------------------------------------------------------------

    def drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        parser = EscposParser()  # framing is per connection; the printer's state is shared
        try:
            while data := await reader.read(READ_CHUNK):
                if self.slow_ms:
                    await asyncio.sleep(self.slow_ms / 1000)
                if writer not in self._writers:
                    break
                reply = self.receive(data, parser)
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    # -- the printer ------------------------------------------------------------------

    def receive(self, data: bytes, parser: EscposParser | None = None) -> bytes:
        """Take in bytes from the hub; return what the printer answers (status bytes)."""
        self.received += data
        reply = bytearray()
        for command in (parser or self._parser).feed(data):
            answer = self.apply(command)
            if answer:
                reply += answer
        return bytes(reply)

    @property
    def can_print(self) -> bool:
        return not (self.paper_out or self.cover_open)

    @property
    def drawer_open(self) -> bool:
        if self._drawer_opened_at is None:
            return False
        if self.drawer_open_s is not None and time.monotonic() - self._drawer_opened_at >= self.drawer_open_s:
            self._drawer_opened_at = None
            return False
        return True

    def open_drawer(self) -> None:
        """Someone opened the drawer (or the kick did)."""
        self._drawer_opened_at = time.monotonic()

    def close_drawer(self) -> None:
        """Someone pushed the drawer shut."""
        self._drawer_opened_at = None

    def status_byte(self, query: int) -> int | None:
        """The reply to ``DLE EOT query``, from the simulated state (None: no reply)."""
        match query:
            case 1:
                offline = not self.can_print
                return _EOT_BASE | (0x04 if self.drawer_open else 0) | (0x08 if offline else 0)
            case 2:
                return _EOT_BASE | (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
            case 3:
                return _EOT_BASE
            case 4:
                if self.paper_out:
                    return _EOT_BASE | 0x60 | 0x0C
                return _EOT_BASE | (0x0C if self.paper_near_end else 0)
        return None

    def apply(self, command: Command) -> bytes:
        match command:
            case StatusRequest(query):
                self.status_requests += 1
                answer = self.status_byte(query)
                return b"" if answer is None else bytes([answer])
            case TransmitStatus(query):
                if query == 1:
                    return bytes([(0x03 if self.paper_near_end else 0) | (0x0C if self.paper_out else 0)])
                if query == 2:
                    return bytes([0x01 if self.drawer_open else 0])
                return b""
            case DrawerKick():
                # The drawer port is not the print mechanism: it kicks even without paper.
                self.drawer_kicks += 1
                self.current.drawer_kicks += 1
                self.open_drawer()
            case Initialize():
                self._end_line(only_if_pending=True)
                self._reset_modes()
            case SelectCodePage(page):
                self.code_page = page
            case Bold(on):
                self.bold = on
            case PrintMode(bold, double_height, double_width):
                self.bold, self.height, self.width = bold, 2 if double_height else 1, 2 if double_width else 1
            case CharacterSize(width, height):
                self.width, self.height = width, height
            case Align(align):
                self.align = align
            case Unknown(raw):
                self.unknown.append(raw)
            case Ignored():
                pass
            case _ if not self.can_print:
                self.lost_commands += 1  # nothing comes out of a printer without paper
            case Text(data):
                if not self._line:
                    self._line_style = PrintedLine("", self.align, self.bold, self.width, self.height)
                self._line.append(self._decode(data))
            case LineFeed():
                self._end_line()
            case Feed(lines, dots):
                self._end_line(only_if_pending=True)
                self.current.paper.extend([""] * (lines + dots // DOTS_PER_LINE))
            case Barcode(symbology, data):
                self._end_line(only_if_pending=True)
                value = data.decode("ascii", "replace").removeprefix("{B").removeprefix("{A").removeprefix("{C")
                self.current.barcodes.append((symbology, value))
                self.current.paper.append(self._place(f"[{symbology} {value}]", self.align, 1))
            case TwoDimensionalCode(symbol, function, data) if symbol == QR_SYMBOL:
                if function == STORE_DATA:
                    self._qr_data = data.decode("utf-8", "replace")
                elif function == PRINT_SYMBOL and self._qr_data is not None:
                    self._end_line(only_if_pending=True)
                    self.current.qr.append(self._qr_data)
                    self.current.paper.append(self._place(f"[QR {self._qr_data}]", self.align, 1))
            case TwoDimensionalCode():
                pass
            case RasterImage():
                self._end_line(only_if_pending=True)
                self.current.images.append((command.width_dots, command.height))
                self.current.paper.append(self._place(f"[image {command.width_dots}x{command.height}]", self.align, 1))
            case Cut(partial, feed_dots):
                self._end_line(only_if_pending=True)
                self.current.paper.extend([""] * (feed_dots // DOTS_PER_LINE))
                self._cut("partial" if partial else "full")
        return b""

    def _reset_modes(self) -> None:
        self.code_page = 0
        self.bold = False
        self.width = self.height = 1
        self.align = "left"
        self._line: list[str] = []
        self._line_style = PrintedLine("")
        self._qr_data: str | None = None

    def _decode(self, data: bytes) -> str:
        table = self._tables.get(self.code_page)
        if table is None:
            name = self._pages.get(self.code_page)
            try:
                table = Encoder._get_codepage_char_list(name) if name else ["?"] * 128
            except (LookupError, KeyError, AssertionError):
                table = ["?"] * 128
            self._tables[self.code_page] = table
        return "".join(chr(b) if b < 0x80 else table[b - 0x80] for b in data)

    def _end_line(self, *, only_if_pending: bool = False) -> None:
        if only_if_pending and not self._line:
            return
        style = self._line_style if self._line else PrintedLine("", self.align, self.bold, self.width, self.height)
        text = "".join(self._line)
        self._line = []
        line = PrintedLine(text, style.align, style.bold, style.width, style.height)
        self.current.lines.append(line)
        self.current.paper.append(self._place(text, line.align, line.width))
        if self.paper_lines_left is not None:
            self.paper_lines_left -= 1
            if self.paper_lines_left <= 0:
                self.paper_out, self.paper_lines_left = True, None

    def _place(self, text: str, align: str, width: int) -> str:
        if width > 1:
            text = " ".join(text)  # double width shown spaced out
        columns = self.columns
        match align:
            case "center":
                return text.center(columns).rstrip()
            case "right":
                return text.rjust(columns)
        return text

    def _cut(self, mode: str) -> None:
        receipt = self.current
        receipt.cut = mode
        receipt.paper.append(f"8<{'-' * (self.columns - 2)} {mode} cut")
        self.receipts.append(receipt)
        self.current = SimulatedReceipt(number=receipt.number + 1)
        if self.receipts_dir is not None:
            self.receipts_dir.mkdir(parents=True, exist_ok=True)
            (self.receipts_dir / f"receipt-{receipt.number:04d}.txt").write_text(receipt.render(), encoding="utf-8")

    # -- the simulator desk (``storehub sim``) ----------------------------------------

    def desk_handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """What a person at ``storehub sim`` can tell this printer to do."""

        def set_flag(name: str, value: bool) -> Callable[[dict[str, Any]], Any]:
            def handler(args: dict[str, Any]) -> dict[str, Any]:
                setattr(self, name, value)
                return self.describe()

            return handler

        def slow(args: dict[str, Any]) -> dict[str, Any]:
            self.slow_ms = int(args.get("ms", 500))
            return self.describe()

        def last(args: dict[str, Any]) -> dict[str, Any]:
            count = int(args.get("count", 1))
            return {"receipts": [r.render() for r in self.receipts[-count:]]}

        return {
            "status": lambda args: self.describe(),
            "paper_out": set_flag("paper_out", True),
            "paper_in": set_flag("paper_out", False),
            "paper_near_end": set_flag("paper_near_end", True),
            "paper_full": set_flag("paper_near_end", False),
            "cover_open": set_flag("cover_open", True),
            "cover_close": set_flag("cover_open", False),
            "unplug": set_flag("offline", True),
            "plug_in": set_flag("offline", False),
            "slow": slow,
            "open_drawer": lambda args: (self.open_drawer(), self.describe())[1],
            "close_drawer": lambda args: (self.close_drawer(), self.describe())[1],
            "receipts": last,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "profile": self.profile,
            "paper_out": self.paper_out,
            "paper_near_end": self.paper_near_end,
            "cover_open": self.cover_open,
            "offline": self.offline,
            "slow_ms": self.slow_ms,
            "drawer_open": self.drawer_open,
            "receipts": len(self.receipts),
        }


class SerialEscposPrinter(PtyDevice):
    """The same printer on a pty: for the serial driver (``driver = "serial"``, port = ``link``).

    The pty's reader thread feeds the simulator; read its receipts once the hub's job is done.
    """

    def __init__(self, link: Path, printer: EscposPrinterSimulator | None = None) -> None:
        super().__init__(link)
        self.printer = printer or EscposPrinterSimulator()
        self._parser = EscposParser()

    def received(self, data: bytes) -> None:
        reply = self.printer.receive(data, self._parser)
        if reply:
            self.send(reply)
