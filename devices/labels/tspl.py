"""TSPL: a shelf tag as a TSC (or TSPL-speaking Xprinter, Gprinter) printer takes it, and
what its status byte says.

One tag is one run of lines, each ending CR LF (after TSC's TSPL/TSPL2 Programming Manual):

    SIZE {w} mm,{h} mm  GAP 2 mm,0 mm  DIRECTION 1  REFERENCE 0,0  CODEPAGE UTF-8  CLS
    BITMAP {x},{y},{width bytes},{height},1,{raw rows}   0 bits print: black is 0, as in Pillow's mode "1"
    BARCODE {x},{y},"EAN13",{h},{1|0},0,{module},{module},"{12 digits}"   the printer adds the check digit
    BARCODE {x},{y},"128",{h},{1|0},0,{module},{module},"{data}"         subsets chosen by the printer
    BAR {x},{y},{w},{h}                                  a filled rule
    TEXT {x},{y},"0",0,{pt},{pt},"{text}"                the printer's scalable font, size in points
    PRINT 1,{copies}

A bitmap is laid on in mode 1 (OR), not 0 (overwrite): its white, and the padding to a
whole byte, never erase a neighbour's ink (ZPL's ``^GF`` draws the same way).
A double quote inside a string is sent as ``\\["]``, the manual's escape.  The status
query is ``<ESC>!?``: one byte back, bit 0 head open, 1 paper jam, 2 paper out, 3 ribbon
out, 4 paused, 5 printing, 6 cover open, 7 temperature out of range.  ``FORMFEED`` feeds
one blank label; ``GAPDETECT`` measures the label and the gap.
"""

from __future__ import annotations

import logging
import math

from PIL import Image

from bus.payloads import DeviceError, ErrorCode
from devices.labels.language import LabelStatus
from devices.labels.raster import Bitmap, Box, DotBarcode, DotItem, DotLabel, ResidentText

log = logging.getLogger(__name__)

CRLF = b"\r\n"

#: The gap between two labels on the roll: the 2 mm of every shelf-tag roll we stock.
GAP_MM = 2

#: ``PRINT``'s copies run to nine digits; the actor asks for far fewer (``tag.MAX_COPIES``).
MAX_COPIES = 999_999_999

#: ``BITMAP``'s mode 1: ink is added, white leaves what is under it.
BITMAP_OR = 1

#: The status byte's bits (``<ESC>!?``).
HEAD_OPEN, PAPER_JAM, PAPER_OUT, RIBBON_OUT, PAUSED, PRINTING, COVER_OPEN, TEMPERATURE = (1 << bit for bit in range(8))
#: The bits ``LabelStatus`` has no field for, in the shop's words (printing is no problem).
OTHER_BITS = {PAPER_JAM: "paper_jam", COVER_OPEN: "cover_open", TEMPERATURE: "temperature_out_of_range"}

#: Points (1/72 inch) per dot at 1 dot per mm: font "0" takes its size in points.
POINTS_PER_MM = 72 / 25.4


class TsplLanguage:
    """TSPL for ``LabelLanguage`` (devices/labels/language.py)."""

    name = "tspl"
    status_query = b"\x1b!?"
    feed_bytes: bytes | None = b"FORMFEED" + CRLF
    calibrate_bytes: bytes | None = b"GAPDETECT" + CRLF
    #: TSPL's status byte says nothing of a buffer, and there is nothing to cancel by.
    cancel_bytes: bytes | None = None

    def label_bytes(self, label: DotLabel, *, copies: int) -> bytes:
        if not 1 <= copies <= MAX_COPIES:
            raise _refused(f"copies must be 1 to {MAX_COPIES}, not {copies}")
        width, height = _mm(label.width, label.dpmm), _mm(label.height, label.dpmm)
        lines = [
            f"SIZE {width} mm,{height} mm".encode(),
            f"GAP {GAP_MM} mm,0 mm".encode(),
            b"DIRECTION 1",
            b"REFERENCE 0,0",
            b"CODEPAGE UTF-8",
            b"CLS",
        ]
        lines.extend(_command(item, label.dpmm) for item in label.items)
        lines.append(f"PRINT 1,{copies}".encode())
        return CRLF.join(lines) + CRLF

    def status_reply_complete(self, data: bytes) -> bool:
        return len(data) >= 1

    def parse_status(self, data: bytes) -> LabelStatus:
        """The ``<ESC>!?`` byte; ``ValueError`` when there is none."""
        if len(data) != 1:
            raise ValueError(f"<ESC>!? answers one byte, this is {len(data)}")
        status = data[0]
        return LabelStatus(
            paper_out=bool(status & PAPER_OUT),
            ribbon_out=bool(status & RIBBON_OUT),
            head_open=bool(status & HEAD_OPEN),
            paused=bool(status & PAUSED),
            other=tuple(name for bit, name in OTHER_BITS.items() if status & bit),
        )


TSPL = TsplLanguage()
#: What ``devices.label_printer`` looks for in a language's module.
LANGUAGE = TSPL


def _command(item: DotItem, dpmm: int) -> bytes:
    match item:
        case Bitmap(x=x, y=y, image=image):
            row_bytes, data = bitmap_rows(image)
            if not data:
                raise _refused("an empty bitmap")
            return f"BITMAP {x},{y},{row_bytes},{image.height},{BITMAP_OR},".encode() + data
        case DotBarcode():
            return _barcode(item)
        case Box(x=x, y=y, width=width, height=height):
            return f"BAR {x},{y},{width},{height}".encode()
        case ResidentText(x=x, y=y, height=height, text=text):
            points = max(round(height / dpmm * POINTS_PER_MM), 1)
            return f'TEXT {x},{y},"0",0,{points},{points},"{quoted(text)}"'.encode()
    raise _refused(f"a label item TSPL cannot print: {type(item).__name__}")


def _barcode(barcode: DotBarcode) -> bytes:
    readable = 1 if barcode.human_readable else 0
    head = f"BARCODE {barcode.x},{barcode.y}"
    tail = f"{barcode.height},{readable},0,{barcode.module},{barcode.module}"
    if barcode.symbology == "ean13":
        digits = barcode.data
        if not (digits.isascii() and digits.isdigit() and len(digits) in (12, 13)):
            raise _refused(f"EAN-13 takes 12 or 13 digits, not {digits!r}")
        return f'{head},"EAN13",{tail},"{digits[:12]}"'.encode()
    if not barcode.data:
        raise _refused("a Code 128 barcode needs data")
    return f'{head},"128",{tail},"{quoted(barcode.data)}"'.encode()


def bitmap_rows(image: Image.Image) -> tuple[int, bytes]:
    """Bytes per row and the rows of a mode "1" image as ``BITMAP`` takes them: 0 bits
    print, so the image's own bits go as they are, padded with white to whole bytes."""
    row_bytes = math.ceil(image.width / 8)
    padded = Image.new("1", (row_bytes * 8, image.height), 1)
    padded.paste(image.convert("1"), (0, 0))
    return row_bytes, padded.tobytes()


def quoted(text: str) -> str:
    """Text inside a TSPL string: ``\\["]`` for a double quote; line breaks would end the command."""
    return text.replace('"', '\\["]').replace("\r", " ").replace("\n", " ")


def _mm(dots: int, dpmm: int) -> str:
    return f"{dots / dpmm:.2f}".rstrip("0").rstrip(".")


def _refused(message: str) -> DeviceError:
    log.warning("TSPL: label refused: %s", message)
    return DeviceError(ErrorCode.INVALID_REQUEST, message)
