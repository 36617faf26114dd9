"""A laid-out tag in a label printer's dots: what ZPL and TSPL encoders consume.

Text becomes 1-bit bitmaps (Pillow, the template's TrueType font) unless the printer's
profile says it has a resident font with Cyrillic, then it stays text.  Barcodes stay
barcodes: the printer draws its own bars, sharper than any bitmap.

Lines go where the layout put them (``layout.baselines``, ``layout.aligned_x``).  Fonts
hinted at a printer's few dots per mm come out a little wider than the layout measured
them; a line that would then pass its box's edge is squeezed back into the box, never
cut and never left to overprint its neighbour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, ImageOps

from devices.labels.layout import (
    DIGITS_MODULES,
    QUIET_MODULES,
    BarcodeBlock,
    RuleBlock,
    Symbology,
    TagLayout,
    TextBlock,
    aligned_x,
    barcode_modules,
    baselines,
    line_metrics,
    line_x,
    strike_rules,
    truetype,
)

#: Dots per mm label printers come in: 203 and 300 dpi, and 600 dpi for tiny labels.
PRINTER_DPMM = frozenset({8, 12, 24})

#: Ink where an antialiased pixel is at least this dark: squeezed lines are resampled.
INK_THRESHOLD = 128


@dataclass(frozen=True)
class Bitmap:
    x: int
    y: int
    #: Mode "1": 0 is black (ink), 255 is white.
    image: Image.Image


@dataclass(frozen=True)
class ResidentText:
    """Text the printer draws with its own font (profile ``resident_cyrillic``)."""

    x: int
    y: int
    height: int
    text: str


@dataclass(frozen=True)
class DotBarcode:
    x: int
    y: int
    #: The bars' height in dots; the human-readable digits go under them.
    height: int
    #: Narrow bar width in dots.
    module: int
    symbology: Symbology
    data: str
    human_readable: bool


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int


DotItem = Bitmap | ResidentText | DotBarcode | Box


@dataclass(frozen=True)
class DotLabel:
    width: int
    height: int
    dpmm: int
    items: tuple[DotItem, ...]


def rasterize(layout: TagLayout, *, dpmm: int, resident_font: bool = False) -> DotLabel:
    """The tag in dots at ``dpmm``; text as bitmaps, or as resident text when the
    printer has a font with Cyrillic."""
    if dpmm not in PRINTER_DPMM:
        raise ValueError(f"a label printer prints at {sorted(PRINTER_DPMM)} dots per mm, not {dpmm}")
    label = _Dots(dpmm, round(layout.width * dpmm), round(layout.height * dpmm))
    items: list[DotItem] = []
    for block in layout.blocks:
        if isinstance(block, TextBlock):
            items.extend(_resident_text(block, label) if resident_font else _bitmap(block, label))
            items.extend(label.box(rule) for rule in strike_rules(block))
        elif isinstance(block, BarcodeBlock):
            items.append(_barcode(block, label))
        else:
            items.append(label.box(block))
    return DotLabel(label.width, label.height, dpmm, tuple(items))


@dataclass(frozen=True)
class _Dots:
    """Millimetres to this label's dots, kept inside the label."""

    dpmm: int
    width: int
    height: int

    def x(self, mm: float) -> int:
        return min(max(round(mm * self.dpmm), 0), self.width)

    def y(self, mm: float) -> int:
        return min(max(round(mm * self.dpmm), 0), self.height)

    def box(self, rule: RuleBlock) -> Box:
        x, y = self.x(rule.x), self.y(rule.y)
        width = max(self.x(rule.x + rule.width) - x, 1)
        height = max(self.y(rule.y + rule.height) - y, 1)
        return Box(min(x, self.width - width), min(y, self.height - height), width, height)


def _bitmap(block: TextBlock, label: _Dots) -> list[Bitmap]:
    """The block's lines drawn into one bitmap the size of its box, cropped to the ink."""
    dpmm = label.dpmm
    left, top = label.x(block.x), label.y(block.y)
    width, height = label.x(block.x + block.width) - left, label.y(block.y + block.height) - top
    if width <= 0 or height <= 0:
        return []
    canvas = Image.new("L", (width, height), 255)
    font = truetype(block.font, block.size * dpmm)
    ascent, descent = font.getmetrics()
    for line, baseline in zip(block.lines, baselines(block), strict=True):
        strip = _line_strip(line, font, ascent + descent, ascent)
        if strip.width > width:
            strip = strip.resize((width, strip.height), Image.Resampling.LANCZOS)
        x = round(aligned_x(block, strip.width / dpmm) * dpmm) - left
        where = (min(max(x, 0), width - strip.width), round(baseline * dpmm) - ascent - top)
        # Ink only: a line's white must not wipe the descenders of the line above.
        canvas.paste(0, (*where, where[0] + strip.width, where[1] + strip.height), mask=ImageOps.invert(strip))
    ink = canvas.point(lambda value: 255 if value < INK_THRESHOLD else 0).getbbox()
    if ink is None:
        return []
    image = canvas.crop(ink).point(lambda value: 0 if value < INK_THRESHOLD else 255, mode="1")
    return [Bitmap(left + ink[0], top + ink[1], image)]


def _line_strip(line: str, font: ImageFont.FreeTypeFont, height: int, ascent: int) -> Image.Image:
    """One line, black on white, as wide as its ink and advance reach."""
    draw_width = max(math.ceil(font.getlength(line)), font.getbbox(line, anchor="ls")[2], 1)
    strip = Image.new("L", (draw_width, height), 255)
    draw = ImageDraw.Draw(strip)
    draw.fontmode = "1"  # hinted, not antialiased: crisp on a thermal head
    draw.text((0, ascent), line, font=font, fill=0, anchor="ls")
    return strip


def _resident_text(block: TextBlock, label: _Dots) -> list[ResidentText]:
    """One resident-font line per line, at the layout's place; its height the size."""
    ascent, _ = line_metrics(block.font, block.size)
    height = max(round(block.size * label.dpmm), 1)
    return [
        ResidentText(label.x(line_x(block, line)), label.y(baseline - ascent), height, line)
        for line, baseline in zip(block.lines, baselines(block), strict=True)
    ]


def _barcode(block: BarcodeBlock, label: _Dots) -> DotBarcode:
    """Bars as wide as whole dots allow inside the box, quiet zones included, at the
    box's left (where a shelf tag's barcode sits)."""
    modules = barcode_modules(block.symbology, block.data)
    left, top = label.x(block.x), label.y(block.y)
    width, height = label.x(block.x + block.width) - left, label.y(block.y + block.height) - top
    module = max(width // modules, 1)
    x = left + QUIET_MODULES[block.symbology][0] * module
    digits = DIGITS_MODULES * module if block.human_readable else 0
    return DotBarcode(x, top, max(height - digits, 1), module, block.symbology, block.data, block.human_readable)
