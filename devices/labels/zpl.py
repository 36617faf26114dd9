"""ZPL II: a shelf tag as a Zebra printer takes it, and what its status answer says.

One tag is one format (after the ZPL II Programming Guide):

    ^XA ^PW{width} ^LL{length} ^LH0,0 ^CI28        the label in dots, home at its corner, UTF-8
    ^FO{x},{y}^GFA,{bytes},{bytes},{row},{data}^FS  a bitmap (text drawn by Pillow), 1 bits ink
    ^FO{x},{y}^BY{module}^BEN,{h},Y,N^FD{12 digits}^FS         EAN-13 (the printer adds the check digit)
    ^FO{x},{y}^BY{module}^BCN,{h},Y,N,N,A^FH^FD{data}^FS      Code 128, subsets chosen by the printer
    ^FO{x},{y}^GB{w},{h},{min(w, h)}^FS             a filled rule
    ^FO{x},{y}^A0N,{h},{h}^FH^FD{text}^FS           text in the printer's own scalable font
    ^PQ{copies} ^XZ

``^FO`` of a barcode is where its bars begin: EAN-13's leading digit is printed left of
it, in the quiet zone the raster left.  Bitmaps travel as hex with ZPL's ASCII
compression (``compress_rows``): repeat counts G-Y (1-19) and g-z (20-400) before a hex
digit, ``,`` for a row's zeros to its end, ``!`` for its ones, ``:`` for a row repeated.
Field data goes through ``^FH`` so a caret or a tilde in a name cannot start a command.

The status query is ``~HS``; the printer answers three lines, each ``STX … ETX CR LF``
(``parse_status``).  ``~PH`` feeds one blank label; ``~JC`` measures label and gap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from PIL import Image, ImageOps

from bus.payloads import DeviceError, ErrorCode
from devices.labels.language import LabelStatus
from devices.labels.raster import Bitmap, Box, DotBarcode, DotItem, DotLabel, ResidentText

log = logging.getLogger(__name__)

STX, ETX = b"\x02", b"\x03"

#: ``^PQ`` takes up to eight digits; the actor asks for far fewer (``tag.MAX_COPIES``).
MAX_COPIES = 99_999_999

#: ``^BY``'s narrow bar is 1 to 10 dots wide.
MODULE_RANGE = range(1, 11)

#: The field hex indicator (``^FH``'s default): ``_5E`` in field data is a caret.
HEX_INDICATOR = "_"
#: Characters that would end field data or start a command, and the indicator itself.
_ESCAPED = frozenset("^~_")

#: Repeat counts of the ASCII compression: G..Y are 1..19, g..z are 20, 40, .., 400.
LOW_COUNTS = {chr(ord("G") + n - 1): n for n in range(1, 20)}
HIGH_COUNTS = {chr(ord("g") + n - 1): n * 20 for n in range(1, 21)}
#: The longest run one count says (z + Y: 400 + 19).
LONGEST_RUN = 419
#: Shorter runs are sent as they are: a count would not make them shorter.
SHORTEST_COUNTED_RUN = 3
_HEX = frozenset("0123456789ABCDEFabcdef")
#: ``,`` fills the rest of a row with zeros (no ink), ``!`` with ones (ink).
_ROW_ENDS = {",": "0", "!": "F"}

#: ~HS string 1: ``aaa,b,c,dddd,eee,f,g,h,iii,j,k,l``; string 2: ``mmm,n,o,p,q,r,s,t,u…,v,www``.
S1_PAPER_OUT, S1_PAUSE, S1_FORMATS_WAITING, S1_CORRUPT_RAM, S1_UNDER_TEMPERATURE, S1_OVER_TEMPERATURE = (
    1,
    2,
    4,
    9,
    10,
    11,
)
S1_FIELDS = 12
S2_HEAD_UP, S2_RIBBON_OUT = 2, 3
S2_FIELDS = 11
#: What else string 1 may flag, in the shop's words.
S1_OTHER = {S1_CORRUPT_RAM: "settings_lost", S1_UNDER_TEMPERATURE: "head_too_cold", S1_OVER_TEMPERATURE: "head_too_hot"}


class ZplLanguage:
    """ZPL II for ``LabelLanguage`` (devices/labels/language.py)."""

    name = "zpl"
    status_query = b"~HS"
    #: ~PH: slew to home, the FEED button's blank label.
    feed_bytes: bytes | None = b"~PH"
    #: ~JC: media sensor calibration, which measures the label and the gap.
    calibrate_bytes: bytes | None = b"~JC"
    #: ~JA: cancel all, every format waiting in the buffer.
    cancel_bytes: bytes | None = b"~JA"

    def label_bytes(self, label: DotLabel, *, copies: int) -> bytes:
        if not 1 <= copies <= MAX_COPIES:
            raise _refused(f"copies must be 1 to {MAX_COPIES}, not {copies}")
        fields = [f"^XA^PW{label.width}^LL{label.height}^LH0,0^CI28"]
        fields.extend(_field(item) for item in label.items)
        fields.append(f"^PQ{copies}^XZ")
        return ("\n".join(fields) + "\n").encode("utf-8")

    def status_reply_complete(self, data: bytes) -> bool:
        return data.count(ETX) >= 3

    def parse_status(self, data: bytes) -> LabelStatus:
        """The ``~HS`` answer; ``ValueError`` when it is not three ``STX … ETX`` strings."""
        strings = _status_strings(data)
        if len(strings) < 3:
            raise ValueError(f"~HS answers three strings, this has {len(strings)}")
        first, second = strings[0].split(","), strings[1].split(",")
        if len(first) != S1_FIELDS or len(second) != S2_FIELDS:
            raise ValueError(f"~HS strings have {S1_FIELDS} and {S2_FIELDS} fields, not {len(first)} and {len(second)}")
        return LabelStatus(
            paper_out=_flag(first, S1_PAPER_OUT),
            paused=_flag(first, S1_PAUSE),
            head_open=_flag(second, S2_HEAD_UP),
            ribbon_out=_flag(second, S2_RIBBON_OUT),
            other=tuple(name for index, name in S1_OTHER.items() if _flag(first, index)),
            waiting=_count(first, S1_FORMATS_WAITING),
        )


ZPL = ZplLanguage()
#: What ``devices.label_printer`` looks for in a language's module.
LANGUAGE = ZPL


# -- fields ---------------------------------------------------------------------------------


def _field(item: DotItem) -> str:
    at = f"^FO{item.x},{item.y}"
    match item:
        case Bitmap(image=image):
            return at + graphic_field(image) + "^FS"
        case DotBarcode():
            return at + _barcode(item)
        case Box(width=width, height=height):
            return at + f"^GB{width},{height},{min(width, height)}^FS"
        case ResidentText(height=height, text=text):
            return at + f"^A0N,{height},{height}^FH^FD{field_data(text)}^FS"
    raise _refused(f"a label item ZPL cannot print: {type(item).__name__}")


def _barcode(barcode: DotBarcode) -> str:
    module = barcode.module
    if module not in MODULE_RANGE:
        log.warning("ZPL: a %d-dot barcode module is past ^BY's 10 dots; printed at 10", module)
        module = min(max(module, 1), 10)
    readable = "Y" if barcode.human_readable else "N"
    if barcode.symbology == "ean13":
        digits = barcode.data
        if not (digits.isascii() and digits.isdigit() and len(digits) in (12, 13)):
            raise _refused(f"EAN-13 takes 12 or 13 digits, not {digits!r}")
        # The printer computes the check digit itself from the first twelve.
        return f"^BY{module}^BEN,{barcode.height},{readable},N^FD{digits[:12]}^FS"
    if not barcode.data:
        raise _refused("a Code 128 barcode needs data")
    return f"^BY{module}^BCN,{barcode.height},{readable},N,N,A^FH^FD{field_data(barcode.data)}^FS"


def field_data(text: str) -> str:
    """Text for ``^FH^FD``: carets, tildes, the indicator and control characters as ``_XX``."""
    out = []
    for char in text:
        if char in _ESCAPED or ord(char) < 0x20:
            out.append("".join(f"{HEX_INDICATOR}{byte:02X}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
    return "".join(out)


def _refused(message: str) -> DeviceError:
    log.warning("ZPL: label refused: %s", message)
    return DeviceError(ErrorCode.INVALID_REQUEST, message)


# -- graphics -------------------------------------------------------------------------------


def graphic_field(image: Image.Image) -> str:
    """``^GFA`` of a mode "1" image (0 is ink): rows of hex, compressed."""
    row_bytes = math.ceil(image.width / 8)
    total = row_bytes * image.height
    if total == 0:
        raise _refused("an empty bitmap")
    return f"^GFA,{total},{total},{row_bytes},{compress_rows(ink_rows(image))}"


def ink_rows(image: Image.Image) -> list[bytes]:
    """The image's rows with 1 bits for ink (ZPL's sense), padded with white to whole bytes."""
    ink = ImageOps.invert(image.convert("L")).convert("1")
    data = ink.tobytes()
    row_bytes = math.ceil(image.width / 8)
    return [data[row * row_bytes : (row + 1) * row_bytes] for row in range(image.height)]


def compress_rows(rows: list[bytes]) -> str:
    """ZPL's ASCII compression of hex rows (the Programming Guide's "Alternative Data
    Compression Scheme for ~DG and ~DB Commands", which ``^GFA`` reads too)."""
    out: list[str] = []
    previous: bytes | None = None
    for row in rows:
        out.append(":" if row == previous else _compress_row(row.hex().upper()))
        previous = row
    return "".join(out)


def _compress_row(hex_row: str) -> str:
    body, end = hex_row.rstrip("0"), ","
    if len(body) == len(hex_row):
        body, end = hex_row.rstrip("F"), "!"
        if len(body) == len(hex_row):
            end = ""
    return "".join(_counted(char, count) for char, count in _runs(body)) + end


def _runs(text: str) -> Iterator[tuple[str, int]]:
    at = 0
    while at < len(text):
        end = at
        while end < len(text) and text[end] == text[at]:
            end += 1
        yield text[at], end - at
        at = end


def _counted(char: str, count: int) -> str:
    out = []
    while count >= SHORTEST_COUNTED_RUN:
        take = min(count, LONGEST_RUN)
        out.append(repeat_count(take) + char)
        count -= take
    return "".join(out) + char * count


def repeat_count(count: int) -> str:
    """The letters that say ``count`` (1 to 419) repeats of the hex digit after them."""
    if not 1 <= count <= LONGEST_RUN:
        raise ValueError(f"a repeat count is 1 to {LONGEST_RUN}, not {count}")
    high, low = divmod(count, 20)
    return (chr(ord("g") + high - 1) if high else "") + (chr(ord("G") + low - 1) if low else "")


def expand_graphic(data: str, row_bytes: int, rows: int) -> bytes:
    """``^GFA`` data back to raw rows, plain hex or compressed, as a printer reads it.

    A short image is padded with white rows and data past the image is ignored;
    ``ValueError`` for a character that is neither hex nor part of the compression.
    """
    width = row_bytes * 2
    done: list[str] = []
    row, count = "", 0
    for char in data:
        if char in LOW_COUNTS or char in HIGH_COUNTS:
            count += LOW_COUNTS.get(char) or HIGH_COUNTS[char]
            continue
        if char in _HEX:
            row += char.upper() * max(count, 1)
            while len(row) >= width:
                done.append(row[:width])
                row = row[width:]
        elif char in _ROW_ENDS:
            done.append(row.ljust(width, _ROW_ENDS[char]))
            row = ""
        elif char == ":":
            done.extend(([row.ljust(width, "0")] if row else []) + [done[-1] if done else "0" * width])
            row = ""
        elif char not in "\r\n ":
            raise ValueError(f"{char!r} is not in ^GFA data")
        count = 0
        if len(done) >= rows:
            break
    if row:
        done.append(row.ljust(width, "0"))
    done.extend(["0" * width] * (rows - len(done)))
    return bytes.fromhex("".join(done[:rows]))


# -- status ---------------------------------------------------------------------------------


def _status_strings(data: bytes) -> list[str]:
    strings = []
    for chunk in data.split(STX)[1:]:
        body, sep, _ = chunk.partition(ETX)
        if sep:
            strings.append(body.decode("ascii", "replace").strip())
    return strings


def _count(fields: list[str], index: int) -> int:
    value = fields[index].strip()
    if not value.isdigit():
        raise ValueError(f"a ~HS count is digits, not {value!r}")
    return int(value)


def _flag(fields: list[str], index: int) -> bool:
    value = fields[index].strip()
    if value not in ("0", "1"):
        raise ValueError(f"a ~HS flag is 0 or 1, not {value!r}")
    return value == "1"
