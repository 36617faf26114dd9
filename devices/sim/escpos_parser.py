"""ESC/POS as a printer reads it: a byte stream cut into commands.

The parser is fed bytes as they arrive (a command may be split across reads) and hands
back typed commands; it knows nothing of sockets, paper or state.  It understands what
receipts are made of (init, code pages, text, styles, alignment, feeds, cuts, barcodes
in both ``GS k`` forms, ``GS ( k`` 2D codes, ``GS v 0`` raster images, the drawer kick)
and the real-time status requests, skips the common setting commands it has no use for
by their known length, and reports anything else as ``Unknown`` without losing its
place for long.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
LF, CR, HT, FF, NUL = 0x0A, 0x0D, 0x09, 0x0C, 0x00
EOT, DC4 = 0x04, 0x14

#: A command that declares more data than this is not believed: it is reported as
#: unknown instead of swallowing the rest of the stream (the largest legitimate one is a
#: full-width image of a few hundred kilobytes).
MAX_COMMAND_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Initialize:
    """``ESC @``: modes back to their defaults, code page 0."""


@dataclass(frozen=True, slots=True)
class SelectCodePage:
    page: int


@dataclass(frozen=True, slots=True)
class Text:
    """Printable bytes, still in the printer's current code page."""

    data: bytes


@dataclass(frozen=True, slots=True)
class LineFeed:
    pass


@dataclass(frozen=True, slots=True)
class Bold:
    on: bool


@dataclass(frozen=True, slots=True)
class PrintMode:
    """``ESC ! n``: bold (bit 3), double height (bit 4), double width (bit 5) at once."""

    bold: bool
    double_height: bool
    double_width: bool


@dataclass(frozen=True, slots=True)
class CharacterSize:
    """``GS ! n``: width and height multipliers, 1 to 8."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Align:
    align: str  # left, center, right


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 0
    dots: int = 0


@dataclass(frozen=True, slots=True)
class Cut:
    partial: bool
    feed_dots: int = 0


@dataclass(frozen=True, slots=True)
class Barcode:
    symbology: str
    data: bytes
    #: "A" (NUL-terminated) or "B" (length-prefixed).
    form: str


@dataclass(frozen=True, slots=True)
class TwoDimensionalCode:
    """``GS ( k``: ``symbol`` 49 is QR (48 PDF417); ``function`` 80 stores, 81 prints."""

    symbol: int
    function: int
    data: bytes


@dataclass(frozen=True, slots=True)
class RasterImage:
    """``GS v 0``: a bit image ``width_bytes`` * 8 dots wide."""

    mode: int
    width_bytes: int
    height: int

    @property
    def width_dots(self) -> int:
        return self.width_bytes * 8


@dataclass(frozen=True, slots=True)
class DrawerKick:
    pin: int
    on_ms: int
    off_ms: int


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """``DLE EOT n``: answer one status byte now."""

    query: int


@dataclass(frozen=True, slots=True)
class TransmitStatus:
    """``GS r n``: 1 paper sensor, 2 drawer sensor."""

    query: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A command understood and skipped: it changes nothing a receipt shows."""

    raw: bytes


@dataclass(frozen=True, slots=True)
class Unknown:
    raw: bytes


Command = (
    Initialize
    | SelectCodePage
    | Text
    | LineFeed
    | Bold
    | PrintMode
    | CharacterSize
    | Align
    | Feed
    | Cut
    | Barcode
    | TwoDimensionalCode
    | RasterImage
    | DrawerKick
    | StatusRequest
    | TransmitStatus
    | Ignored
    | Unknown
)

#: ``GS k m`` symbologies: m for the NUL-terminated form A; m + 65 for form B.
BARCODE_SYMBOLOGIES = {
    0: "UPC-A",
    1: "UPC-E",
    2: "EAN13",
    3: "EAN8",
    4: "CODE39",
    5: "ITF",
    6: "CODABAR",
    72 - 65: "CODE93",
    73 - 65: "CODE128",
    74 - 65: "GS1-128",
    75 - 65: "GS1 DATABAR OMNIDIRECTIONAL",
    76 - 65: "GS1 DATABAR TRUNCATED",
    77 - 65: "GS1 DATABAR LIMITED",
    78 - 65: "GS1 DATABAR EXPANDED",
}

#: ESC and GS commands skipped by their fixed number of parameter bytes.
ESC_FIXED = {
    ord("-"): 1,  # underline
    ord("2"): 0,  # default line spacing
    ord("3"): 1,  # line spacing
    ord("="): 1,  # select peripheral
    ord("G"): 1,  # double strike
    ord("M"): 1,  # font
    ord("r"): 1,  # colour
    ord("{"): 1,  # upside down
    ord("V"): 1,  # rotate
    ord(" "): 1,  # character spacing
    ord("R"): 1,  # international character set
    ord("B"): 2,  # buzzer
    ord("c"): 2,  # panel buttons (ESC c 5 n), paper sensors (ESC c 3/4 n)
    ord("u"): 1,  # transmit peripheral status (old)
    ord("v"): 0,  # transmit paper status (old)
}
GS_FIXED = {
    ord("h"): 1,  # barcode height
    ord("w"): 1,  # barcode module width
    ord("H"): 1,  # barcode text position
    ord("f"): 1,  # barcode text font
    ord("B"): 1,  # reverse printing
    ord("b"): 1,  # smoothing
    ord("a"): 1,  # automatic status back
    ord("I"): 1,  # printer id
    ord("L"): 2,  # left margin
    ord("W"): 2,  # print area width
    ord("|"): 1,  # density
}

_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}

_NEED_MORE = None


class EscposParser:
    """Feed it bytes; it returns the complete commands among them and keeps the rest."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an unfinished command waiting for the rest."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Command]:
        self._buffer += data
        commands: list[Command] = []
        at = 0
        while at < len(self._buffer):
            found = _parse_one(self._buffer, at)
            if found is _NEED_MORE:
                break
            command, at = found
            commands.append(command)
        del self._buffer[:at]
        return commands


def _parse_one(buf: bytearray, at: int) -> tuple[Command, int] | None:
    byte = buf[at]
    if byte == LF:
        return LineFeed(), at + 1
    if byte == ESC:
        return _escape(buf, at)
    if byte == GS:
        return _group_separator(buf, at)
    if byte == DLE:
        return _real_time(buf, at)
    if byte == FS:
        return _fixed(buf, at, {ord("."): 0, ord("&"): 0, ord("p"): 2})
    if byte in (CR, NUL):
        return Ignored(bytes([byte])), at + 1
    if byte == FF:
        return Feed(lines=1), at + 1
    if byte < 0x20 and byte != HT:
        return Unknown(bytes([byte])), at + 1
    end = at
    while end < len(buf) and (buf[end] >= 0x20 or buf[end] == HT):
        end += 1
    return Text(bytes(buf[at:end]).replace(b"\t", b"    ")), end


def _need(buf: bytearray, at: int, length: int) -> bytes | None:
    """``length`` bytes from ``at``, or None until they have all arrived."""
    if len(buf) - at < length:
        return None
    return bytes(buf[at : at + length])


def _escape(buf: bytearray, at: int) -> tuple[Command, int] | None:
    head = _need(buf, at, 2)
    if head is None:
        return _NEED_MORE
    code = head[1]
    if code == ord("@"):
        return Initialize(), at + 2
    if code in (ord("i"), ord("m")):  # the old cut commands
        return Cut(partial=True), at + 2
    if code == ord("*"):  # column bit image: ESC * m nL nH data
        header = _need(buf, at, 5)
        if header is None:
            return _NEED_MORE
        columns = header[3] | header[4] << 8
        length = 5 + columns * (1 if header[2] in (0, 1) else 3)
        return (Ignored(bytes(buf[at : at + length])), at + length) if _need(buf, at, length) else _NEED_MORE
    if code == ord("p"):
        command = _need(buf, at, 5)
        if command is None:
            return _NEED_MORE
        return DrawerKick(pin=2 if command[2] in (0, 48) else 5, on_ms=command[3] * 2, off_ms=command[4] * 2), at + 5
    one = _need(buf, at, 3)
    if code in (ord("t"), ord("E"), ord("!"), ord("a"), ord("d"), ord("J")):
        if one is None:
            return _NEED_MORE
        n = one[2]
        match chr(code):
            case "t":
                return SelectCodePage(n), at + 3
            case "E":
                return Bold(bool(n & 1)), at + 3
            case "!":
                return PrintMode(bold=bool(n & 0x08), double_height=bool(n & 0x10), double_width=bool(n & 0x20)), at + 3
            case "a":
                return Align(_ALIGN.get(n, "left")), at + 3
            case "d":
                return Feed(lines=n), at + 3
            case "J":
                return Feed(dots=n), at + 3
    return _fixed(buf, at, ESC_FIXED)


def _group_separator(buf: bytearray, at: int) -> tuple[Command, int] | None:
    head = _need(buf, at, 2)
    if head is None:
        return _NEED_MORE
    code = head[1]
    if code == ord("!"):
        command = _need(buf, at, 3)
        if command is None:
            return _NEED_MORE
        return CharacterSize(width=(command[2] >> 4) + 1, height=(command[2] & 0x0F) + 1), at + 3
    if code == ord("V"):
        return _cut(buf, at)
    if code == ord("k"):
        return _barcode(buf, at)
    if code == ord("("):
        return _length_prefixed(buf, at)
    if code == ord("v"):
        return _raster(buf, at)
    if code == ord("r"):
        command = _need(buf, at, 3)
        return _NEED_MORE if command is None else (TransmitStatus(command[2] & 0x0F), at + 3)
    return _fixed(buf, at, GS_FIXED)


def _cut(buf: bytearray, at: int) -> tuple[Command, int] | None:
    command = _need(buf, at, 3)
    if command is None:
        return _NEED_MORE
    mode = command[2]
    if mode in (0, 48, 1, 49):
        return Cut(partial=mode in (1, 49)), at + 3
    # Forms with a feed before the cut: GS V m n.
    command = _need(buf, at, 4)
    if command is None:
        return _NEED_MORE
    return Cut(partial=mode in (66, 98, 104), feed_dots=command[3]), at + 4


def _barcode(buf: bytearray, at: int) -> tuple[Command, int] | None:
    head = _need(buf, at, 3)
    if head is None:
        return _NEED_MORE
    m = head[2]
    if m <= 6:  # form A: data up to NUL
        end = buf.find(NUL, at + 3)
        if end < 0:
            return _NEED_MORE if len(buf) - at < 260 else (Unknown(bytes(buf[at : at + 3])), at + 3)
        return Barcode(BARCODE_SYMBOLOGIES[m], bytes(buf[at + 3 : end]), "A"), end + 1
    if 65 <= m <= 78:  # form B: a length, then the data
        length_byte = _need(buf, at, 4)
        if length_byte is None:
            return _NEED_MORE
        length = length_byte[3]
        data = _need(buf, at + 4, length)
        if data is None:
            return _NEED_MORE
        return Barcode(BARCODE_SYMBOLOGIES.get(m - 65, f"m={m}"), data, "B"), at + 4 + length
    return Unknown(head), at + 3


def _length_prefixed(buf: bytearray, at: int) -> tuple[Command, int] | None:
    """``GS ( x pL pH …``: every function of this family says how long it is."""
    header = _need(buf, at, 5)
    if header is None:
        return _NEED_MORE
    family, length = header[2], header[3] | header[4] << 8
    end = at + 5 + length
    if len(buf) < end:
        return _NEED_MORE
    body = bytes(buf[at + 5 : end])
    if family == ord("k") and len(body) >= 2:
        symbol, function = body[0], body[1]
        # Store (80) and print (81) carry m = '0' before the data.
        data = body[3:] if function in (80, 81) else body[2:]
        return TwoDimensionalCode(symbol, function, data), end
    return Ignored(bytes(buf[at:end])), end


def _raster(buf: bytearray, at: int) -> tuple[Command, int] | None:
    header = _need(buf, at, 8)
    if header is None:
        return _NEED_MORE
    if header[2] != ord("0"):
        return Unknown(header[:3]), at + 3
    width_bytes, height = header[4] | header[5] << 8, header[6] | header[7] << 8
    length = 8 + width_bytes * height
    if length > MAX_COMMAND_BYTES:
        return Unknown(header), at + 8
    if len(buf) - at < length:
        return _NEED_MORE
    return RasterImage(header[3], width_bytes, height), at + length


def _real_time(buf: bytearray, at: int) -> tuple[Command, int] | None:
    head = _need(buf, at, 3)
    if head is None:
        return _NEED_MORE
    if head[1] == EOT:
        query = head[2]
        if query in (7, 8):  # DLE EOT 7/8 a: ink and peeler status, one more byte
            return (Ignored(head + buf[at + 3 : at + 4]), at + 4) if _need(buf, at, 4) else _NEED_MORE
        return StatusRequest(query), at + 3
    if head[1] == DC4:
        if head[2] == 1:  # DLE DC4 1 m t: a drawer pulse in real time
            command = _need(buf, at, 5)
            if command is None:
                return _NEED_MORE
            return DrawerKick(pin=2 if command[3] == 0 else 5, on_ms=command[4] * 100, off_ms=command[4] * 100), at + 5
        return Unknown(head), at + 3
    if head[1] == 0x05:  # DLE ENQ n: real-time request to recover
        return Ignored(head), at + 3
    return Unknown(head[:2]), at + 2


def _fixed(buf: bytearray, at: int, table: dict[int, int]) -> tuple[Command, int] | None:
    head = _need(buf, at, 2)
    if head is None:
        return _NEED_MORE
    params = table.get(head[1])
    if params is None:
        return Unknown(head), at + 2
    command = _need(buf, at, 2 + params)
    if command is None:
        return _NEED_MORE
    return Ignored(command), at + 2 + params
