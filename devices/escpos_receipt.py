"""A receipt as a till sends it, and the ESC/POS bytes that print it.

A till describes a receipt as a list of typed blocks (text, line, key/value, barcode,
QR code, image, feed, cut); it never sends printer commands.  ``receipt_bytes`` lays the
blocks out with python-escpos on a ``Dummy`` printer of the device's capability profile,
so the profile decides what a model can do (code pages, columns, cutter, native QR) and
the whole receipt becomes one byte string, written to the printer in one go: a receipt
is never interleaved with another job or left half-sent by a slow build.

Cyrillic text comes out in the profile's CP866 page: after ``ESC @`` (which resets the
printer to page 0) the document selects the configured code page once, and
python-escpos's magic encoder keeps to it for as long as the text allows.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from escpos import exceptions as escpos_errors
from escpos.constants import BARCODE_FORMATS, BARCODE_TYPE_A, BARCODE_TYPE_B, QR_ECLEVEL_M
from escpos.printer import Dummy
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bus.payloads import Count, Flag
from devices.gtin import is_valid_gtin

#: Blocks in one receipt.  A long supermarket receipt is a few hundred lines; this bound
#: keeps a runaway till from building a metre of paper.
MAX_BLOCKS = 1000

#: Characters in one text block: a paragraph, not a book.
MAX_TEXT = 4096

#: Bytes a QR code holds here.  A fiscal-receipt link or a loyalty URL is under 300;
#: larger codes get too dense to scan off thermal paper at receipt size.
MAX_QR_DATA = 700

#: Tallest image printed, in dots: a logo or a coupon, not a poster (2000 dots are
#: 28 cm of paper at 180 dpi).
MAX_IMAGE_HEIGHT_DOTS = 2000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Symbologies a receipt may carry, as python-escpos names them; the GTIN ones have a
#: check digit that is verified before anything is printed.
Symbology = Literal["EAN13", "EAN8", "UPC-A", "CODE39", "CODE128"]
GTIN_SYMBOLOGIES = {"EAN13": 13, "EAN8": 8, "UPC-A": 12}

Align = Literal["left", "center", "right"]


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextBlock(Block):
    type: Literal["text"]
    text: str = Field(max_length=MAX_TEXT, description="One paragraph; a line feed ends it.")
    bold: Flag = False
    double_height: Flag = False
    double_width: Flag = False
    align: Align = "left"


class LineBlock(Block):
    """A separator across the paper."""

    type: Literal["line"]
    char: str = Field("-", min_length=1, max_length=1, description="The character the line is drawn with.")


class KeyValueBlock(Block):
    """A name on the left and an amount on the right, across the paper width."""

    type: Literal["kv"]
    key: str = Field(max_length=MAX_TEXT)
    value: str = Field(max_length=MAX_TEXT)
    bold: Flag = False


class BarcodeBlock(Block):
    type: Literal["barcode"]
    code: str = Field(min_length=1, max_length=80, description="The full code; a GTIN with its check digit.")
    symbology: Symbology = "EAN13"
    height: Count = Field(64, ge=1, le=255, description="Bar height in dots.")
    module_width: Count = Field(3, ge=2, le=6, description="Narrow bar width in dots.")
    human_readable: Flag = Field(True, description="Print the digits under the bars.")

    @model_validator(mode="after")
    def _code_fits_the_symbology(self) -> BarcodeBlock:
        code, symbology = self.code, self.symbology
        if symbology in GTIN_SYMBOLOGIES:
            length = GTIN_SYMBOLOGIES[symbology]
            if len(code) != length or not code.isdigit():
                raise ValueError(f"an {symbology} code has {length} digits, check digit included; got {code!r}")
            if not is_valid_gtin(code):
                raise ValueError(f"{code} has a wrong check digit for {symbology}")
        elif symbology == "CODE39":
            if not re.fullmatch(BARCODE_FORMATS["CODE39"][1], code):
                raise ValueError("a CODE39 code has digits, capital letters, space and - . $ / + % only")
        elif not all(32 <= ord(c) < 127 for c in code):
            raise ValueError("a CODE128 code has printable ASCII characters only")
        return self


class QrBlock(Block):
    type: Literal["qr"]
    data: str = Field(min_length=1, max_length=MAX_QR_DATA)
    size: Count = Field(6, ge=1, le=16, description="Module size in dots.")


class ImageBlock(Block):
    """A logo or coupon, as a PNG no wider than the paper."""

    type: Literal["image"]
    png_base64: str = Field(min_length=1)
    center: Flag = True

    @field_validator("png_base64")
    @classmethod
    def _is_png(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not base64") from None
        if not raw.startswith(PNG_SIGNATURE):
            raise ValueError("is not a PNG image")
        return value


class FeedBlock(Block):
    type: Literal["feed"]
    lines: Count = Field(1, ge=1, le=255)


class CutBlock(Block):
    type: Literal["cut"]
    mode: Literal["partial", "full"] = Field(
        "partial", description="Partial leaves a hinge so the receipt does not fall on the floor."
    )


ReceiptBlock = Annotated[
    TextBlock | LineBlock | KeyValueBlock | BarcodeBlock | QrBlock | ImageBlock | FeedBlock | CutBlock,
    Field(discriminator="type"),
]


class ReceiptDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    blocks: list[ReceiptBlock] = Field(min_length=1, max_length=MAX_BLOCKS)


@dataclass(frozen=True, slots=True)
class PaperLayout:
    """What the device's profile (and its config) says about the paper and the printer."""

    profile: str
    columns: int
    code_page: str


class ReceiptRefused(ValueError):
    """The document cannot be printed on this printer (too wide an image, no barcodes)."""


def receipt_bytes(blocks: list[ReceiptBlock], layout: PaperLayout, *, drawer_pin: int | None = None) -> bytes:
    """The whole receipt as the printer will receive it.

    With ``drawer_pin`` the drawer is kicked first, so it opens while the receipt prints
    and the cashier counts the change meanwhile.
    """
    paper = start_document(layout)
    if drawer_pin is not None:
        paper.cashdraw(drawer_pin)
    try:
        for block in blocks:
            _draw(paper, block, layout)
    except ReceiptRefused:
        raise
    except (escpos_errors.Error, ValueError, OSError) as exc:
        raise ReceiptRefused(f"{exc.__class__.__name__}: {exc}".strip()) from None
    return paper.output


def start_document(layout: PaperLayout) -> Dummy:
    """A fresh printer: reset, then the shop's code page selected once."""
    paper = Dummy(profile=layout.profile)
    paper.hw("INIT")
    # Force the page so ESC t is sent now, then let the magic encoder go on from it:
    # Cyrillic and ASCII stay in one page with no further switches.
    paper.charcode(layout.code_page)
    paper.charcode("AUTO")
    return paper


def cut_bytes(layout: PaperLayout, mode: Literal["partial", "full"]) -> bytes:
    paper = Dummy(profile=layout.profile)
    paper.cut(mode="PART" if mode == "partial" else "FULL")
    return paper.output


def drawer_kick_bytes(pin: int, pulse_ms: int | None = None) -> bytes:
    """``ESC p m t1 t2``: a pulse on drawer connector pin 2 or 5.

    python-escpos's default pulse is 100 ms on, 100 ms off; ``pulse_ms`` sets both
    (the printer counts in 2 ms steps).
    """
    paper = Dummy()
    if pulse_ms is None:
        paper.cashdraw(pin)
    else:
        steps = max(1, min(255, pulse_ms // 2))
        paper.cashdraw([27, 112, 0 if pin == 2 else 1, steps, steps])
    return paper.output


def _style(paper: Dummy, *, align: Align = "left", bold: bool = False, width: int = 1, height: int = 1) -> None:
    # Every block states its whole style, so a block never inherits a previous one's.
    paper.set(align=align, bold=bold, custom_size=True, width=width, height=height)


def _draw(paper: Dummy, block: ReceiptBlock, layout: PaperLayout) -> None:
    match block:
        case TextBlock():
            _style(
                paper,
                align=block.align,
                bold=block.bold,
                width=2 if block.double_width else 1,
                height=2 if block.double_height else 1,
            )
            paper.textln(block.text)
        case LineBlock():
            _style(paper)
            paper.textln(block.char * layout.columns)
        case KeyValueBlock():
            _style(paper, bold=block.bold)
            for line in key_value_lines(block.key, block.value, layout.columns):
                paper.textln(line)
        case BarcodeBlock():
            _barcode(paper, block)
        case QrBlock():
            _style(paper, align="center")
            if paper.profile.supports("qrCode"):
                paper.qr(block.data, ec=QR_ECLEVEL_M, size=block.size, native=True)
            else:  # the profile has no native QR: python-escpos draws it as an image
                paper.qr(block.data, ec=QR_ECLEVEL_M, size=block.size, native=False, center=True)
        case ImageBlock():
            _image(paper, block)
        case FeedBlock():
            paper.print_and_feed(block.lines)
        case CutBlock():
            paper.cut(mode="PART" if block.mode == "partial" else "FULL")


def key_value_lines(key: str, value: str, columns: int) -> list[str]:
    """``key`` flush left and ``value`` flush right on one line, or on two if they do not fit."""
    gap = columns - len(key) - len(value)
    if gap >= 1:
        return [key + " " * gap + value]
    return [key, value.rjust(columns)]


def _barcode(paper: Dummy, block: BarcodeBlock) -> None:
    # Function type B carries the code's length, so the printer needs no NUL to find its
    # end; type A is the fallback for profiles without it.
    if paper.profile.supports("barcodeB") and block.symbology in BARCODE_TYPE_B:
        function_type = "B"
    elif paper.profile.supports("barcodeA") and block.symbology in BARCODE_TYPE_A:
        function_type = "A"
    else:
        raise ReceiptRefused(
            f"this printer's profile ({paper.profile.profile_data['name']}) cannot print {block.symbology}"
        )
    # CODE128 needs its code set named first; B covers all of printable ASCII.
    code = "{B" + block.code if block.symbology == "CODE128" else block.code
    _style(paper, align="center")
    # The hardware renderer directly: ``barcode()`` would only add a software fallback
    # this module never wants and a print() to stdout for every barcode.
    paper._hw_barcode(
        code,
        block.symbology,
        height=block.height,
        width=block.module_width,
        pos="BELOW" if block.human_readable else "OFF",
        font="A",
        align_ct=False,  # centred by the style above already
        function_type=function_type,
        check=True,
    )


def _image(paper: Dummy, block: ImageBlock) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(base64.b64decode(block.png_base64)))
    except (UnidentifiedImageError, OSError):
        raise ReceiptRefused("the image is not a readable PNG") from None
    width, height = image.size
    if height > MAX_IMAGE_HEIGHT_DOTS:
        raise ReceiptRefused(f"the image is {height} dots tall; at most {MAX_IMAGE_HEIGHT_DOTS}")
    paper_width = paper.profile.profile_data["media"]["width"].get("pixels")
    if isinstance(paper_width, int) and width > paper_width:
        raise ReceiptRefused(f"the image is {width} dots wide; this printer prints {paper_width}")
    _style(paper, align="left")
    paper.image(image, center=block.center and isinstance(paper_width, int), impl="bitImageRaster")
