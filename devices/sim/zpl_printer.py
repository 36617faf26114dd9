"""A simulated Zebra label printer (ZPL II) on a real TCP socket, as on port 9100.

``ZplParser`` cuts the byte stream into commands (``^XX`` and ``~XX`` with their
parameters up to the next ``^`` or ``~``; the parameterless ones at once, so a ``~HS``
at the end of a write is answered without waiting).  The printer keeps one format's
state from ``^XA`` to ``^XZ`` — width (``^PW``), length (``^LL``), home (``^LH``), the
field origin (``^FO``), barcode defaults (``^BY``), the field's kind (``^BE``, ``^BC``,
``^A``), ``^FH`` escapes, ``^CI`` encoding, copies (``^PQ``) — collects its marks
(``^GF`` bitmaps, plain or compressed hex; ``^GB`` boxes; barcodes and text at ``^FS``)
and at ``^XZ`` draws them on a ``LabelCanvas`` and prints (``LabelPrinterSimulator``).
``~HS`` is answered with the three host status strings from the simulated state; ``~JC``
and ``~PH`` are counted; ``~JA`` cancels the labels held in the buffer.  Any other
command is counted in ``unknown`` and skipped, a command it cannot read in
``malformed``: the printer never stops for them.

    printer = ZplPrinterSimulator(dpmm=8, labels_dir=Path("labels"))
    await printer.start()          # hub config: port = f"tcp:127.0.0.1:{printer.port}"
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from devices.labels.zpl import HEX_INDICATOR, expand_graphic
from devices.sim.label_canvas import LabelCanvas
from devices.sim.label_printer import LabelPrinterSimulator, numbers

log = logging.getLogger(__name__)

PREFIXES = b"^~"
#: Commands without parameters, taken as soon as their three bytes are in.
NO_PARAMETERS = frozenset({"^XA", "^XZ", "^FS", "~HS", "~JC", "~PH", "~JA"})
#: A command longer than this (a label-sized bitmap is a few hundred kilobytes of hex)
#: is not believed: it is dropped instead of holding the rest of the stream.
MAX_COMMAND_BYTES = 4 * 1024 * 1024
#: The label length when a format says none (``^LL``): the 40 mm of a shelf-tag roll.
DEFAULT_LENGTH_MM = 40
#: ``^BY``'s defaults: a 2-dot module, ratio 3, 10-dot bars.
DEFAULT_MODULE, DEFAULT_BAR_HEIGHT = 2, 10
#: A font's height when ``^A`` says none: font A's 9 dots, the printer's default.
DEFAULT_FONT_HEIGHT = 9
#: ``^CI28``: field data is UTF-8; before it, the printer's single-byte code page.
UTF8_ENCODINGS = frozenset({28, 29, 30})

STX, ETX, CRLF = b"\x02", b"\x03", b"\r\n"


@dataclass(frozen=True, slots=True)
class ZplCommand:
    #: "^XA", "~HS", "^A0" (``^A`` with its font), …
    name: str
    params: bytes = b""
    #: Longer than ``MAX_COMMAND_BYTES``: its bytes were dropped.
    too_long: bool = False


class ZplParser:
    """Feed it bytes; it returns the complete commands among them and keeps the rest."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[ZplCommand]:
        self._buffer += data
        commands: list[ZplCommand] = []
        at = 0
        while True:
            start = _next_prefix(self._buffer, at)
            if start < 0:
                at = len(self._buffer)  # stray bytes between commands: a printer ignores them
                break
            if len(self._buffer) - start < 3:
                at = start
                break
            name = (chr(self._buffer[start]) + self._buffer[start + 1 : start + 3].decode("latin-1")).upper()
            if name in NO_PARAMETERS:
                commands.append(ZplCommand(name))
                at = start + 3
                continue
            end = _next_prefix(self._buffer, start + 3)
            if end < 0:
                if len(self._buffer) - start > MAX_COMMAND_BYTES:
                    commands.append(ZplCommand(name, too_long=True))
                    at = len(self._buffer)
                else:
                    at = start
                break
            commands.append(ZplCommand(name, bytes(self._buffer[start + 3 : end])))
            at = end
        del self._buffer[:at]
        return commands


def _next_prefix(buffer: bytearray, at: int) -> int:
    found = [index for index in (buffer.find(b"^", at), buffer.find(b"~", at)) if index >= 0]
    return min(found) if found else -1


Mark = Callable[[LabelCanvas], object]


@dataclass
class _Format:
    """What one ``^XA … ^XZ`` has said so far."""

    width: int | None = None
    length: int | None = None
    home: tuple[int, int] = (0, 0)
    origin: tuple[int, int] = (0, 0)
    copies: int = 1
    module: int = DEFAULT_MODULE
    bar_height: int = DEFAULT_BAR_HEIGHT
    utf8: bool = False
    # The field being built, until ^FS.
    kind: str | None = None
    kind_height: int = 0
    readable: bool = True
    hex_indicator: str | None = None
    data: bytes | None = None
    marks: list[Mark] = field(default_factory=list)


class ZplPrinterSimulator(LabelPrinterSimulator):
    language = "ZPL"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, dpmm: int = 8, labels_dir: Path | None = None):
        super().__init__(host=host, port=port, dpmm=dpmm, labels_dir=labels_dir)
        self.last_length = DEFAULT_LENGTH_MM * dpmm
        self._format: _Format | None = None
        self._handlers: dict[str, Callable[[_Format, bytes], None]] = {
            "^PW": self._print_width,
            "^LL": self._label_length,
            "^LH": self._label_home,
            "^FO": self._field_origin,
            "^BY": self._barcode_defaults,
            "^BE": self._ean13,
            "^BC": self._code128,
            "^FH": self._field_hex,
            "^FD": self._field_data,
            "^GF": self._graphic_field,
            "^GB": self._graphic_box,
            "^PQ": self._quantity,
            "^CI": self._encoding,
        }

    def new_parser(self) -> ZplParser:
        return ZplParser()

    def apply(self, command: ZplCommand) -> bytes:
        name = command.name
        if command.too_long:
            self.note_malformed(name, f"longer than {MAX_COMMAND_BYTES} bytes")
            return b""
        if name == "~HS":
            self.status_queries += 1
            return self.host_status()
        if name in ("~JC", "~PH", "~JA"):
            self._control(name)
        elif name == "^XA":
            self._format = _Format()
        elif name == "^XZ":
            self._end_format()
        elif self._handler(name) is None and name != "^FS":
            self.note_unknown(name)
        elif self._format is None:
            self.note_malformed(name, "outside ^XA … ^XZ")
        elif name == "^FS":
            self._end_field(self._format)
        else:
            self._in_format(self._format, command)
        return b""

    def _control(self, name: str) -> None:
        if name == "~JC":
            self.calibrations += 1
        elif name == "~PH":
            self.feeds += 1
        else:
            self.cancel_held()

    def _handler(self, name: str) -> Callable[[_Format, bytes], None] | None:
        if name.startswith("^A"):  # ^A0, ^AA, …: the font is the third letter
            return self._font
        return self._handlers.get(name)

    def _in_format(self, fmt: _Format, command: ZplCommand) -> None:
        handler = self._handler(command.name)
        assert handler is not None
        try:
            handler(fmt, command.params)
        except (ValueError, IndexError) as exc:
            self.note_malformed(command.name, exc)

    # -- the format -----------------------------------------------------------------------

    def _end_format(self) -> None:
        fmt, self._format = self._format, None
        if fmt is None:
            self.note_malformed("^XZ", "without ^XA")
            return
        width, length = self.clamp_size(fmt.width, fmt.length, self.last_length)
        self.last_length = length
        canvas = LabelCanvas(width, length, self.dpmm)
        for mark in fmt.marks:
            mark(canvas)
        self.take_label(canvas.image, fmt.copies)

    def _print_width(self, fmt: _Format, params: bytes) -> None:
        (fmt.width,) = numbers(_split(params), (None,))

    def _label_length(self, fmt: _Format, params: bytes) -> None:
        (fmt.length,) = numbers(_split(params), (None,))

    def _label_home(self, fmt: _Format, params: bytes) -> None:
        x, y = numbers(_split(params), (0, 0))
        fmt.home = (x or 0, y or 0)

    def _field_origin(self, fmt: _Format, params: bytes) -> None:
        x, y = numbers(_split(params), (0, 0))
        fmt.origin = (fmt.home[0] + (x or 0), fmt.home[1] + (y or 0))

    def _barcode_defaults(self, fmt: _Format, params: bytes) -> None:
        module, _, height = numbers(_split(params)[:3], (fmt.module, None, fmt.bar_height))
        fmt.module = min(max(module or DEFAULT_MODULE, 1), 10)
        fmt.bar_height = max(height or fmt.bar_height, 1)

    def _ean13(self, fmt: _Format, params: bytes) -> None:
        self._barcode_field(fmt, "ean13", _split(params))

    def _code128(self, fmt: _Format, params: bytes) -> None:
        self._barcode_field(fmt, "code128", _split(params))

    def _barcode_field(self, fmt: _Format, kind: str, parts: list[str]) -> None:
        # ^BEo,h,f,g / ^BCo,h,f,g,e,m: orientation, bar height, interpretation line, …
        (height,) = numbers(parts[1:2], (None,))
        fmt.kind, fmt.kind_height = kind, height or fmt.bar_height
        fmt.readable = (parts[2].strip().upper() if len(parts) > 2 and parts[2].strip() else "Y") == "Y"

    def _font(self, fmt: _Format, params: bytes) -> None:
        # ^A{font}o,h,w: the font is the command's third letter; h is the cell's height.
        parts = _split(params)
        (height,) = numbers(parts[1:2], (None,))
        fmt.kind, fmt.kind_height = "text", height or DEFAULT_FONT_HEIGHT

    def _field_hex(self, fmt: _Format, params: bytes) -> None:
        indicator = params.decode("latin-1").strip()
        fmt.hex_indicator = indicator[:1] or HEX_INDICATOR

    def _field_data(self, fmt: _Format, params: bytes) -> None:
        fmt.data = params

    def _graphic_field(self, fmt: _Format, params: bytes) -> None:
        compression, total, _, row_bytes, data = (params.decode("latin-1").split(",", 4) + [""] * 5)[:5]
        if compression.strip().upper() != "A":
            raise ValueError(f"^GF{compression.strip()}: only ASCII hex (A) is simulated")
        size, row = int(total), int(row_bytes)
        if row <= 0 or size <= 0 or size > MAX_COMMAND_BYTES:
            raise ValueError(f"^GF of {size} bytes in rows of {row}")
        ink = expand_graphic(data.strip(), row, size // row)
        # ZPL's 1 bits are ink; a mode "1" image's 0 bits are.
        image = Image.frombytes("1", (row * 8, size // row), bytes(byte ^ 0xFF for byte in ink))
        x, y = fmt.origin
        fmt.marks.append(lambda canvas: canvas.bitmap(x, y, image))

    def _graphic_box(self, fmt: _Format, params: bytes) -> None:
        parts = _split(params)
        width, height, thickness = numbers(parts[:3], (None, None, 1))
        thickness = max(thickness or 1, 1)
        width, height = max(width or thickness, thickness), max(height or thickness, thickness)
        white = len(parts) > 3 and parts[3].strip().upper() == "W"
        x, y = fmt.origin
        fmt.marks.append(lambda canvas: canvas.frame(x, y, width, height, thickness, white=white))

    def _quantity(self, fmt: _Format, params: bytes) -> None:
        (copies,) = numbers(_split(params)[:1], (1,))
        fmt.copies = max(copies or 1, 1)

    def _encoding(self, fmt: _Format, params: bytes) -> None:
        (page,) = numbers(_split(params)[:1], (0,))
        fmt.utf8 = page in UTF8_ENCODINGS

    def _end_field(self, fmt: _Format) -> None:
        kind, data = fmt.kind, fmt.data
        if kind is not None and data is not None:
            try:
                fmt.marks.append(self._field_mark(fmt, kind, self._text(fmt, data)))
            except ValueError as exc:
                self.note_malformed("^FD", exc)
        fmt.kind, fmt.data, fmt.hex_indicator, fmt.readable = None, None, None, True

    def _field_mark(self, fmt: _Format, kind: str, text: str) -> Mark:
        (x, y), module, height, readable = fmt.origin, fmt.module, fmt.kind_height, fmt.readable
        if kind == "ean13":
            digits = text.strip()
            if not (digits.isascii() and digits.isdigit() and len(digits) in (12, 13)):
                raise ValueError(f"EAN-13 takes 12 digits, not {digits!r}")
            return lambda canvas: canvas.ean13(
                x, y, module=module, height=height, digits=digits, human_readable=readable
            )
        if kind == "code128":
            if not text:
                raise ValueError("Code 128 without data")
            return lambda canvas: canvas.code128(x, y, module=module, height=height, data=text, human_readable=readable)
        return lambda canvas: canvas.text(x, y, height, text)

    def _text(self, fmt: _Format, data: bytes) -> str:
        if fmt.hex_indicator is not None:
            data = _unescape(data, fmt.hex_indicator.encode("latin-1"))
        return data.decode("utf-8", "replace") if fmt.utf8 else data.decode("cp1252", "replace")

    # -- the status answer ----------------------------------------------------------------

    def host_status(self) -> bytes:
        """The three ``~HS`` strings (ZPL II Programming Guide) of the printer as it is now."""
        first = (
            f"030,{int(self.paper_out)},{int(self.paused)},{self.last_length:04d},{min(len(self.held), 999):03d},"
            "0,0,0,000,0,0,0"
        )
        second = (
            f"000,0,{int(self.head_open)},{int(self.ribbon_out)},0,2,6,0,{min(self.held_labels, 99999999):08d},1,000"
        )
        third = "1234,0"
        return b"".join(STX + text.encode("ascii") + ETX + CRLF for text in (first, second, third))


def _split(params: bytes) -> list[str]:
    return params.decode("latin-1").split(",") if params else []


def _unescape(data: bytes, indicator: bytes) -> bytes:
    """``^FH`` data: the indicator and two hex digits are that byte."""
    out = bytearray()
    at = 0
    while at < len(data):
        if data[at : at + 1] == indicator and at + 3 <= len(data):
            try:
                out.append(int(data[at + 1 : at + 3], 16))
                at += 3
                continue
            except ValueError:
                pass
        out.append(data[at])
        at += 1
    return bytes(out)
