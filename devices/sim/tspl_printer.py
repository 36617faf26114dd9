"""A simulated TSC label printer (TSPL) on a real TCP socket, as on port 9100.

``TsplParser`` cuts the byte stream into lines (CR LF or LF), a ``BITMAP`` into its
header and its raw rows (their length is in the header, and the rows may hold any byte),
and takes ``<ESC>!x`` at once wherever it comes between commands.  The printer keeps
the label's size (``SIZE``, in mm, inches or dots), its reference point (``REFERENCE``)
and the image buffer: what ``BITMAP`` (0 bits print; overwrite, OR or XOR), ``BARCODE``
(``EAN13``, ``128``), ``BAR``, ``BOX`` and ``TEXT`` draw after ``CLS``; ``PRINT m,n``
prints it m × n times (``LabelPrinterSimulator``).  ``<ESC>!?`` is answered with the
status byte from the simulated state; ``FORMFEED`` and ``GAPDETECT`` are counted;
``GAP``, ``DIRECTION``, ``CODEPAGE``, ``SPEED``, ``DENSITY``, ``OFFSET``, ``SET`` and
``HOME`` change nothing a label shows.  Any other command is counted in ``unknown``
and skipped, one it cannot read in ``malformed``.

    printer = TsplPrinterSimulator(dpmm=8, labels_dir=Path("labels"))
    await printer.start()          # hub config: port = f"tcp:127.0.0.1:{printer.port}"
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from devices.labels import tspl
from devices.sim.label_canvas import LabelCanvas, Paste
from devices.sim.label_printer import LabelPrinterSimulator, numbers

log = logging.getLogger(__name__)

ESC = 0x1B
#: A line longer than this is not believed: it is dropped instead of holding the stream.
MAX_LINE_BYTES = 64 * 1024
#: The largest ``BITMAP`` taken (a whole 104 mm x 500 mm label at 12 dots per mm is ~1 MB).
MAX_BITMAP_BYTES = 4 * 1024 * 1024
#: The label size until ``SIZE`` says one: a 58 x 40 mm shelf tag.
DEFAULT_SIZE_MM = (58, 40)
MM_PER_INCH = 25.4
#: ``BITMAP``'s modes.
PASTE_MODES: dict[int, Paste] = {0: "overwrite", 1: "or", 2: "xor"}
#: The bitmap fonts' heights in dots ("1" 8x12 … "8" 14x25), before their multiplier.
FONT_HEIGHTS = {"1": 12, "2": 20, "3": 24, "4": 32, "5": 48, "6": 19, "7": 27, "8": 25}
#: Commands that change nothing a simulated label shows.
SETTINGS = frozenset({"GAP", "BLINE", "DIRECTION", "CODEPAGE", "SPEED", "DENSITY", "OFFSET", "SET", "SHIFT", "HOME"})


@dataclass(frozen=True, slots=True)
class TsplLine:
    """A command line: its first word, upper-cased, and the rest."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class TsplBitmap:
    header: str
    data: bytes


@dataclass(frozen=True, slots=True)
class TsplImmediate:
    """``<ESC>!x``: answered at once, even in the middle of a job."""

    code: str


@dataclass(frozen=True, slots=True)
class TsplDropped:
    """More bytes than any command has: thrown away."""

    size: int


TsplCommand = TsplLine | TsplBitmap | TsplImmediate | TsplDropped


class TsplParser:
    """Feed it bytes; it returns the complete commands among them and keeps the rest."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[TsplCommand]:
        self._buffer += data
        commands: list[TsplCommand] = []
        at = 0
        while at < len(self._buffer):
            found = self._one(at)
            if found is None:
                break
            command, at = found
            if command is not None:
                commands.append(command)
        del self._buffer[:at]
        return commands

    def _one(self, at: int) -> tuple[TsplCommand | None, int] | None:
        buffer = self._buffer
        if buffer[at] in b"\r\n \t":
            return None, at + 1
        if buffer[at] == ESC:
            if len(buffer) - at < 3:
                return None
            return TsplImmediate(bytes(buffer[at + 1 : at + 3]).decode("latin-1")), at + 3
        if buffer[at : at + 7].upper() == b"BITMAP ":
            return self._bitmap(at)
        end = buffer.find(b"\n", at)
        if end < 0:
            if len(buffer) - at > MAX_LINE_BYTES:
                return TsplDropped(len(buffer) - at), len(buffer)
            return None
        name, _, args = bytes(buffer[at:end]).decode("utf-8", "replace").strip().partition(" ")
        return TsplLine(name.upper(), args.strip()), end + 1

    def _bitmap(self, at: int) -> tuple[TsplCommand | None, int] | None:
        """``BITMAP x,y,width,height,mode,`` then width x height raw bytes."""
        buffer = self._buffer
        header_end = _nth_comma(buffer, at, 5)
        line_end = buffer.find(b"\n", at)
        if header_end < 0 or 0 <= line_end < header_end:
            if line_end >= 0:  # a line break inside the header: not a bitmap it can read
                return TsplBitmap(bytes(buffer[at + 7 : line_end]).decode("latin-1"), b""), line_end + 1
            return (TsplDropped(len(buffer) - at), len(buffer)) if len(buffer) - at > MAX_LINE_BYTES else None
        header = bytes(buffer[at + 7 : header_end]).decode("latin-1")
        try:
            _, _, width, height, _ = numbers(header.split(","), (0, 0, 0, 0, 0))
            size = (width or 0) * (height or 0)
        except ValueError:
            size = -1
        if not 0 < size <= MAX_BITMAP_BYTES:
            # A size it cannot believe: the data's length is unknown, so skip to the line's end.
            return (TsplBitmap(header, b""), line_end + 1) if line_end >= 0 else None
        data_start = header_end + 1
        if len(buffer) - data_start < size:
            return None
        return TsplBitmap(header, bytes(buffer[data_start : data_start + size])), data_start + size


def _nth_comma(buffer: bytearray, at: int, count: int) -> int:
    """Where the ``count``-th comma from ``at`` is, or -1."""
    for _ in range(count):
        found = buffer.find(b",", at)
        if found < 0:
            return -1
        at = found + 1
    return at - 1


Mark = Callable[[LabelCanvas], object]


@dataclass
class _Buffer:
    """The printer's image buffer and the label's setup."""

    size_mm: tuple[float, float] = DEFAULT_SIZE_MM
    reference: tuple[int, int] = (0, 0)
    marks: list[Mark] = field(default_factory=list)


class TsplPrinterSimulator(LabelPrinterSimulator):
    language = "TSPL"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, dpmm: int = 8, labels_dir: Path | None = None):
        super().__init__(host=host, port=port, dpmm=dpmm, labels_dir=labels_dir)
        self._buffer = _Buffer()
        self._lines: dict[str, Callable[[str], None]] = {
            "SIZE": self._size,
            "REFERENCE": self._reference,
            "CLS": lambda args: self._buffer.marks.clear(),
            "BARCODE": self._barcode,
            "BAR": self._bar,
            "BOX": self._box,
            "TEXT": self._text,
            "PRINT": self._print_buffer,
            "FORMFEED": lambda args: self._count("feeds"),
            "GAPDETECT": lambda args: self._count("calibrations"),
        }

    def new_parser(self) -> TsplParser:
        return TsplParser()

    def apply(self, command: TsplCommand) -> bytes:
        match command:
            case TsplImmediate(code):
                return self._immediate(code)
            case TsplBitmap(header, data):
                self._guarded("BITMAP", lambda: self._bitmap(header, data))
            case TsplDropped(size):
                self.note_malformed("line", f"{size} bytes without an end")
            case TsplLine(name, args) if name in self._lines:
                self._guarded(name, lambda: self._lines[name](args))
            case TsplLine(name) if name in SETTINGS:
                pass
            case TsplLine(name):
                self.note_unknown(name)
        return b""

    def _guarded(self, name: str, run: Callable[[], None]) -> None:
        try:
            run()
        except (ValueError, IndexError) as exc:
            self.note_malformed(name, exc)

    def _count(self, counter: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)

    def _immediate(self, code: str) -> bytes:
        if code == "!?":
            self.status_queries += 1
            return bytes([self.status_byte()])
        self.note_unknown(f"<ESC>{code}")
        return b""

    def status_byte(self) -> int:
        """The ``<ESC>!?`` answer of the printer as it is now (``devices.labels.tspl``'s bits)."""
        return (
            (tspl.HEAD_OPEN if self.head_open else 0)
            | (tspl.PAPER_OUT if self.paper_out else 0)
            | (tspl.RIBBON_OUT if self.ribbon_out else 0)
            | (tspl.PAUSED if self.paused else 0)
        )

    # -- the commands ---------------------------------------------------------------------

    def _size(self, args: str) -> None:
        width, _, height = args.partition(",")
        self._buffer.size_mm = (_millimetres(width, self.dpmm), _millimetres(height, self.dpmm))

    def _reference(self, args: str) -> None:
        x, y = numbers(args.split(","), (0, 0))
        self._buffer.reference = (x or 0, y or 0)

    def _at(self, x: int | None, y: int | None) -> tuple[int, int]:
        return self._buffer.reference[0] + (x or 0), self._buffer.reference[1] + (y or 0)

    def _bitmap(self, header: str, data: bytes) -> None:
        x, y, width, height, mode = numbers(header.split(","), (0, 0, 0, 0, 0))
        if not data or not width or not height:
            raise ValueError(f"BITMAP {header}: no image")
        if mode not in PASTE_MODES:
            raise ValueError(f"BITMAP mode {mode} is 0, 1 or 2")
        # TSPL's 0 bits print, as a mode "1" image's 0 bits are ink: the rows go as they are.
        image = Image.frombytes("1", (width * 8, height), data)
        at, paste = self._at(x, y), PASTE_MODES[mode]
        self._buffer.marks.append(lambda canvas: canvas.bitmap(*at, image, paste))

    def _barcode(self, args: str) -> None:
        parts = arguments(args)
        if len(parts) < 9:
            raise ValueError("BARCODE takes x, y, type, height, readable, rotation, narrow, wide, content")
        x, y = numbers(parts[:2], (0, 0))
        kind, content = parts[2].upper(), parts[-1]
        height, readable, _, narrow = numbers(parts[3:7], (None, 0, 0, 1))
        at, module, bars = self._at(x, y), max(narrow or 1, 1), max(height or 1, 1)
        if kind == "EAN13":
            if not (content.isascii() and content.isdigit() and len(content) in (12, 13)):
                raise ValueError(f"EAN13 takes 12 digits, not {content!r}")
            self._buffer.marks.append(
                lambda canvas: canvas.ean13(
                    *at, module=module, height=bars, digits=content, human_readable=bool(readable)
                )
            )
        elif kind == "128":
            if not content:
                raise ValueError("128 without content")
            self._buffer.marks.append(
                lambda canvas: canvas.code128(
                    *at, module=module, height=bars, data=content, human_readable=bool(readable)
                )
            )
        else:
            self.note_unknown(f'BARCODE "{kind}"')

    def _bar(self, args: str) -> None:
        x, y, width, height = numbers(args.split(","), (0, 0, 0, 0))
        at = self._at(x, y)
        self._buffer.marks.append(lambda canvas: canvas.bar(*at, width or 0, height or 0))

    def _box(self, args: str) -> None:
        x, y, right, bottom, thickness = numbers(args.split(",")[:5], (0, 0, 0, 0, 1))
        at = self._at(x, y)
        width, height = (right or 0) - (x or 0), (bottom or 0) - (y or 0)
        self._buffer.marks.append(lambda canvas: canvas.frame(*at, width, height, thickness or 1))

    def _text(self, args: str) -> None:
        parts = arguments(args)
        if len(parts) < 7:
            raise ValueError("TEXT takes x, y, font, rotation, x-multiplication, y-multiplication, content")
        x, y = numbers(parts[:2], (0, 0))
        font, content = parts[2], parts[-1]
        (y_multiplication,) = numbers(parts[5:6], (1,))
        scale = y_multiplication or 1
        if font in FONT_HEIGHTS:
            height = FONT_HEIGHTS[font] * scale
        else:  # "0" and TrueType fonts: the multiplication is the size in points
            height = round(scale / tspl.POINTS_PER_MM * self.dpmm)
        at = self._at(x, y)
        self._buffer.marks.append(lambda canvas: canvas.text(*at, max(height, 1), content))

    def _print_buffer(self, args: str) -> None:
        sets, copies = numbers(args.split(","), (1, 1))
        width, height = self._buffer.size_mm
        size = self.clamp_size(round(width * self.dpmm), round(height * self.dpmm), round(height * self.dpmm))
        canvas = LabelCanvas(*size, self.dpmm)
        for mark in self._buffer.marks:
            mark(canvas)
        self.take_label(canvas.image, max(sets or 1, 0) * max(copies or 1, 1))


def arguments(args: str) -> list[str]:
    """A command's comma-separated arguments, strings unquoted (``\\["]`` is a quote)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    at = 0
    while at < len(args):
        if quoted and args.startswith('\\["]', at):
            current.append('"')
            at += 4
            continue
        char = args[at]
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        at += 1
    parts.append("".join(current).strip())
    return parts


def _millimetres(value: str, dpmm: int) -> float:
    """``58 mm``, ``2.28`` (inches) or ``464 dot``."""
    number, _, unit = value.strip().partition(" ")
    unit = unit.strip().lower()
    if unit == "mm":
        return float(number)
    if unit == "dot":
        return float(number) / dpmm
    return float(number) * MM_PER_INCH
