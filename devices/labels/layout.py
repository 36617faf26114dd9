"""A tag laid out on its template, in millimetres from the tag's top-left corner.

``lay_out`` decides everything that depends on the words: which fields the template
prints, how the name wraps to its box (shortened with "…" when it must), the price's
size.  Backends (``raster`` for label printers, ``pdf`` for A4 sheets) draw the blocks
as they are; none of them wraps or measures text again.

Text is measured with Pillow in the template's TrueType font at ``MEASURE_DPMM``, a
resolution far above any label printer's, so a tag wraps the same on a 203 dpi printer,
a 300 dpi one and the A4 sheet.  The geometry the backends share (where a line starts,
its baseline, the strike through an old price, a barcode's width in modules) is here
too, so the raster and the PDF put each line in the same place.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import barcode
from PIL import ImageFont

from devices.gtin import is_valid_gtin
from devices.labels.tag import LabelRefused, TagData
from devices.labels.template import BarcodeField, Template, TextField, font_path
from devices.labels.wording import CUTTABLE_FIELDS, field_text, rubles, without_dangling_separator, words

log = logging.getLogger(__name__)

Align = Literal["left", "center", "right"]
Symbology = Literal["ean13", "code128"]

#: Dots per mm text is measured at (1270 dpi): fine enough that rounding to whole
#: pixels is lost in the noise, so measurements do not depend on any printer.
MEASURE_DPMM = 50

#: Each step of shrink-to-fit takes this share of the size before: 5 % is a difference
#: the eye barely sees, so the text ends up close to the largest size that fits.
SHRINK_STEP = 0.95

#: What ends a line cut short.
ELLIPSIS = "…"

#: Thinnest bar a barcode is printed with, mm: 2 dots at 203 dpi, 3 at 300 dpi.  One dot
#: bars bleed on thermal paper and stop scanning; GS1 allows EAN-13 down to 0.264 mm.
MIN_MODULE_MM = 0.25

#: Quiet zones in modules (left, right): EAN-13's are GS1's 11 and 7, Code 128's 10.
QUIET_MODULES: dict[Symbology, tuple[int, int]] = {"ean13": (11, 7), "code128": (10, 10)}

#: The height left under the bars for the human-readable digits, in modules: GS1's
#: digits are about 8 modules tall, plus a gap.
DIGITS_MODULES = 10

#: The strike through an old price: how high above the baseline, and how thick, as
#: shares of the font size (the middle of a digit, a pen stroke you cannot miss).
STRIKE_RISE = 0.36
STRIKE_WEIGHT = 0.08

#: Rounding slack when fitting lines to a box, mm.
FIT_SLACK_MM = 1e-6


@dataclass(frozen=True)
class TextBlock:
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]
    #: A font file's stem, e.g. "DejaVuSans-Bold" (see ``template.font_path``).
    font: str
    #: The font's size (its em, as Pillow and reportlab take a size), mm.
    size: float
    align: Align = "left"
    #: A line through the text: the old price on a promotion tag.
    strike: bool = False
    #: The first line's baseline, mm below the block's top; ``None``: the font's ascent.
    baseline: float | None = None
    #: From one line's baseline to the next, mm; ``None``: the font's ascent + descent.
    pitch: float | None = None


@dataclass(frozen=True)
class BarcodeBlock:
    x: float
    y: float
    width: float
    height: float
    symbology: Symbology
    #: EAN-13: all 13 digits, the check digit already checked.
    data: str
    human_readable: bool = True


@dataclass(frozen=True)
class RuleBlock:
    """A filled rectangle: a frame's side, a separator."""

    x: float
    y: float
    width: float
    height: float


Block = TextBlock | BarcodeBlock | RuleBlock


@dataclass(frozen=True)
class TagLayout:
    width: float
    height: float
    blocks: tuple[Block, ...]


# -- measuring ----------------------------------------------------------------------------


def truetype(font: str, pixels: float) -> ImageFont.FreeTypeFont:
    """The template's font at ``pixels`` per em.  Basic layout (no shaping engine): the
    widths then agree with reportlab's, which does not shape either."""
    # One face per thread: a FreeType face must not be used by two threads at once, and
    # label printers lay out and draw their tags in worker threads.
    return _truetype(font, pixels, threading.get_ident())


@functools.lru_cache(maxsize=512)
def _truetype(font: str, pixels: float, thread: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(font)), size=pixels, layout_engine=ImageFont.Layout.BASIC)


def text_width(text: str, font: str, size: float) -> float:
    """How wide ``text`` prints in ``font`` at ``size`` mm, mm."""
    return truetype(font, size * MEASURE_DPMM).getlength(text) / MEASURE_DPMM


def line_metrics(font: str, size: float) -> tuple[float, float]:
    """The font's ascent and descent at ``size`` mm, mm."""
    ascent, descent = truetype(font, size * MEASURE_DPMM).getmetrics()
    return ascent / MEASURE_DPMM, descent / MEASURE_DPMM


def baselines(block: TextBlock) -> list[float]:
    """Each line's baseline, mm from the tag's top."""
    ascent, descent = line_metrics(block.font, block.size)
    first = ascent if block.baseline is None else block.baseline
    pitch = ascent + descent if block.pitch is None else block.pitch
    return [block.y + first + number * pitch for number in range(len(block.lines))]


def aligned_x(block: TextBlock, width: float) -> float:
    """Where a line ``width`` mm wide starts in the block, mm from the tag's left."""
    if block.align == "center":
        return block.x + (block.width - width) / 2
    if block.align == "right":
        return block.x + block.width - width
    return block.x


def line_x(block: TextBlock, line: str) -> float:
    return aligned_x(block, text_width(line, block.font, block.size))


def strike_rules(block: TextBlock) -> tuple[RuleBlock, ...]:
    """The lines through struck text, one per line of it."""
    if not block.strike:
        return ()
    weight = block.size * STRIKE_WEIGHT
    face = truetype(block.font, block.size * MEASURE_DPMM)
    rules = []
    for line, baseline in zip(block.lines, baselines(block), strict=True):
        # From the first glyph's ink to the last one's, not from pen to pen (basic
        # layout's bbox starts at the pen; the drawn mask knows where the ink is).
        mask, (offset, _) = face.getmask2(line)
        ink = mask.getbbox() or (0, 0, 0, 0)
        ink_left, ink_right = (offset + ink[0]) / MEASURE_DPMM, (offset + ink[2]) / MEASURE_DPMM
        top = baseline - block.size * STRIKE_RISE - weight / 2
        rules.append(RuleBlock(line_x(block, line) + ink_left, top, ink_right - ink_left, weight))
    return tuple(rules)


def barcode_modules(symbology: Symbology, data: str) -> int:
    """The symbol's width in modules, quiet zones included.  Code 128 is counted as
    python-barcode encodes it, digit runs packed in pairs (code set C), as a printer's
    automatic subset selection does (ZPL ``^BC`` mode A, TSPL ``"128"``)."""
    left, right = QUIET_MODULES[symbology]
    if symbology == "ean13":
        return left + 95 + right
    return left + _code128_modules(data) + right


@functools.lru_cache(maxsize=1024)
def _code128_modules(data: str) -> int:
    return len(barcode.get("code128", data).build()[0])


# -- laying out ---------------------------------------------------------------------------


def lay_out(tag: TagData, template: Template) -> TagLayout:
    """The tag on the template; ``LabelRefused`` when the tag cannot be printed right."""
    try:
        return _lay_out(tag, template)
    except LabelRefused as refusal:
        log.warning("tag refused (template %s): %s", template.name, refusal.message)
        raise


def _lay_out(tag: TagData, template: Template) -> TagLayout:
    symbology, data = tag_barcode(tag)
    _check_promotion(tag, template)
    blocks: list[Block] = [*_frame(template), *(RuleBlock(r.x, r.y, r.width, r.height) for r in template.rules)]
    for field in template.fields:
        if isinstance(field, BarcodeField):
            blocks.append(_barcode_block(tag, field, symbology, data))
            continue
        block = _text_block(tag, template, field)
        if block is not None:
            blocks.append(block)
    return TagLayout(template.width, template.height, tuple(blocks))


def tag_barcode(tag: TagData) -> tuple[Symbology, str]:
    """What the tag's barcode encodes: EAN-13 of its GTIN (a UPC-A with a leading 0),
    Code 128 of a GTIN-8 or GTIN-14 (so it scans as the same digits), Code 128 of the
    SKU when there is no GTIN.  A wrong check digit is refused here, before anything
    else: barcode libraries quietly "correct" it and the tag would scan as another
    product."""
    gtin = tag.gtin
    if gtin is None:
        if not (tag.sku.isascii() and tag.sku.isprintable()):
            raise LabelRefused(tag.sku, f"product {tag.sku} has no GTIN and its SKU cannot be printed as a barcode")
        return "code128", tag.sku
    if not is_valid_gtin(gtin):
        raise LabelRefused(
            tag.sku,
            f"product {tag.sku}: the GTIN {gtin} has a wrong check digit; correct it in the catalogue "
            "before printing, or the tag would scan as another product",
            gtin=gtin,
        )
    if len(gtin) == 12 or (len(gtin) == 14 and gtin.startswith("0")):
        gtin = gtin.zfill(14)[1:]
    return ("ean13", gtin) if len(gtin) == 13 else ("code128", gtin)


def _check_promotion(tag: TagData, template: Template) -> None:
    """A struck-through old price must be a higher one, or the tag lies."""
    old = next((f for f in template.fields if f.name == "old_price"), None)
    if old is None:
        return
    if tag.old_price is None:
        if old.optional:
            return
        raise LabelRefused(
            tag.sku, f"product {tag.sku} has no old price for the promotion tag {template.name}", template=template.name
        )
    if tag.old_price <= tag.price:
        raise LabelRefused(
            tag.sku,
            f"product {tag.sku}: the old price {rubles(tag.old_price)} is not above the price {rubles(tag.price)}; "
            "a promotion tag would lie",
            template=template.name,
        )


def _frame(template: Template) -> tuple[RuleBlock, ...]:
    if template.frame is None:
        return ()
    w, h, t = template.width, template.height, template.frame
    return (
        RuleBlock(0, 0, w, t),
        RuleBlock(0, h - t, w, t),
        RuleBlock(0, t, t, h - 2 * t),
        RuleBlock(w - t, t, t, h - 2 * t),
    )


def _barcode_block(tag: TagData, field: BarcodeField, symbology: Symbology, data: str) -> BarcodeBlock:
    box = field.box
    if box.width / barcode_modules(symbology, data) < MIN_MODULE_MM:
        raise LabelRefused(
            tag.sku,
            f"product {tag.sku}: its barcode ({data}) is too long for the template's barcode box",
            field=field.name,
        )
    return BarcodeBlock(box.x, box.y, box.width, box.height, symbology, data, field.digits)


def _text_block(tag: TagData, template: Template, field: TextField) -> TextBlock | None:
    text = field_text(field.name, tag, field.text)
    if text is None or not text.strip():
        if field.optional:
            return None
        raise LabelRefused(
            tag.sku, f"product {tag.sku} has no {field.name} for the template {template.name}", field=field.name
        )
    fitted = fit_text(text, field, cut=field.name in CUTTABLE_FIELDS)
    if fitted is None:
        raise LabelRefused(
            tag.sku,
            f"product {tag.sku}: its {field.name} ({text}) does not fit the template {template.name}",
            field=field.name,
        )
    lines, size = fitted
    lines = tuple(without_dangling_separator(line) for line in lines)
    ascent, descent = line_metrics(field.font, size)
    pitch = ascent + descent
    room = field.box.height - len(lines) * pitch
    offset = {"top": 0.0, "middle": room / 2, "bottom": room}[field.valign]
    box = field.box
    return TextBlock(
        box.x, box.y, box.width, box.height, lines, field.font, size, field.align, field.strike, offset + ascent, pitch
    )


# -- fitting words to a box ---------------------------------------------------------------


def fit_text(text: str, field: TextField, *, cut: bool) -> tuple[tuple[str, ...], float] | None:
    """The lines and size ``text`` prints in ``field``'s box: the largest size from
    ``size`` down to ``min_size`` at which all of it fits; at the floor, when ``cut``,
    as much as fits ending in "…"; else ``None``."""
    lines: list[str] = []
    for size in _sizes(field.size, field.floor):
        room = _lines_room(field, size)
        if room == 0:
            continue
        lines, complete = wrap(text, field.box.width, field.font, size, room)
        if complete:
            return tuple(lines), size
    if not cut or not lines:
        return None
    return tuple(lines[:-1]) + (_shortened(lines[-1], field.box.width, field.font, field.floor),), field.floor


def _sizes(largest: float, floor: float) -> list[float]:
    sizes = [largest]
    while sizes[-1] * SHRINK_STEP > floor:
        sizes.append(round(sizes[-1] * SHRINK_STEP, 2))
    if sizes[-1] > floor:
        sizes.append(floor)
    return sizes


def _lines_room(field: TextField, size: float) -> int:
    """How many lines fit the box's height and the field's ``max_lines``."""
    ascent, descent = line_metrics(field.font, size)
    return min(field.max_lines, math.floor((field.box.height + FIT_SLACK_MM) / (ascent + descent)))


def wrap(text: str, width: float, font: str, size: float, limit: int) -> tuple[list[str], bool]:
    """``text`` broken into lines no wider than ``width`` mm, by words (a word wider
    than the box is broken where it must be).  At most ``limit`` lines; the flag says
    whether all of the text is in them."""

    def fits(line: str) -> bool:
        return text_width(line, font, size) <= width + FIT_SLACK_MM

    lines: list[str] = []
    current = ""
    for word in words(text):
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        while not fits(word):
            if len(word) == 1:
                return lines[:limit], False  # a character wider than the box
            cut = _longest_fitting_prefix(word, fits)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
        if len(lines) >= limit:
            return lines[:limit], False
    if current:
        lines.append(current)
    return lines[:limit], len(lines) <= limit


def _longest_fitting_prefix(word: str, fits: Callable[[str], bool]) -> int:
    """At least one character, so a line always moves on."""
    low, high = 1, len(word) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(word[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


def _shortened(line: str, width: float, font: str, size: float) -> str:
    """``line`` cut back until it fits with "…" after it."""
    while line and text_width(line.rstrip() + ELLIPSIS, font, size) > width + FIT_SLACK_MM:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS
