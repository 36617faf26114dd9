"""The paper of a simulated label printer: one label as a 1-bit image in the printer's dots.

Both simulated label printers (ZPL, TSPL) draw on it what their commands say: bitmaps
pasted as they came (overwrite, OR or XOR, as TSPL's ``BITMAP`` modes), rules and frames,
barcodes drawn from python-barcode's own EAN-13 and Code 128 patterns (not ours: the
printer's bars must not share a mistake with the hub's layout) with their digits under
them, and text in the printer's own font (DejaVu Sans stands in for it).

Coordinates are dots from the label's top-left corner; whatever falls off the label is
cut, as a print head prints only what is under it.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Literal

import barcode
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

#: The printer's resident fonts: DejaVu from Debian's fonts-dejavu-core (RUN_PACKAGES).
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
RESIDENT_FONT = FONT_DIR / "DejaVuSans.ttf"
#: Human-readable digits under a barcode: a monospaced face, like the OCR-B printers use.
DIGITS_FONT = FONT_DIR / "DejaVuSansMono.ttf"

#: Under the bars, in modules: a gap, then digits this tall (the raster leaves 10 modules).
DIGITS_GAP_MODULES = 1
DIGITS_HEIGHT_MODULES = 8
#: EAN-13's guard bars run this many modules further down, between the digit groups.
GUARD_EXTRA_MODULES = 5
#: The modules of EAN-13's start, centre and end guards in its 95-module pattern.
EAN13_GUARDS = frozenset({0, 1, 2, 45, 46, 47, 48, 49, 92, 93, 94})

Paste = Literal["overwrite", "or", "xor"]

WHITE, INK = 1, 0


class LabelCanvas:
    def __init__(self, width: int, height: int, dpmm: int) -> None:
        self.dpmm = dpmm
        self.image = Image.new("1", (max(width, 1), max(height, 1)), WHITE)
        self._draw = ImageDraw.Draw(self.image)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def bitmap(self, x: int, y: int, bits: Image.Image, mode: Paste = "or") -> None:
        """A mode "1" image (0 is ink) at ``x, y``: its white erases only when ``overwrite``."""
        bits = bits.convert("1")
        if mode == "overwrite":
            self.image.paste(bits, (x, y))
        elif mode == "or":
            self.image.paste(INK, (x, y, x + bits.width, y + bits.height), mask=ImageOps.invert(bits.convert("L")))
        else:
            under = self.image.crop((x, y, x + bits.width, y + bits.height))
            # Ink where exactly one of the two has ink: white where they agree.
            self.image.paste(ImageChops.invert(ImageChops.logical_xor(under, bits)), (x, y))

    def bar(self, x: int, y: int, width: int, height: int, *, white: bool = False) -> None:
        """A filled rectangle."""
        if width > 0 and height > 0:
            self._draw.rectangle((x, y, x + width - 1, y + height - 1), fill=WHITE if white else INK)

    def frame(self, x: int, y: int, width: int, height: int, thickness: int, *, white: bool = False) -> None:
        """A rectangle's border ``thickness`` dots thick; solid once that reaches its middle."""
        thickness = max(min(thickness, width, height), 1)
        self.bar(x, y, width, thickness, white=white)
        self.bar(x, y + height - thickness, width, thickness, white=white)
        self.bar(x, y, thickness, height, white=white)
        self.bar(x + width - thickness, y, thickness, height, white=white)

    def ean13(self, x: int, y: int, *, module: int, height: int, digits: str, human_readable: bool) -> str:
        """EAN-13 of the first 12 ``digits`` (the check digit is computed, as printers do),
        bars from ``x``, the leading digit left of them; returns the 13 digits printed."""
        symbol = barcode.get("ean13", digits[:12])
        pattern = symbol.build()[0]
        guard = GUARD_EXTRA_MODULES * module if human_readable else 0
        for at, bit in enumerate(pattern):
            if bit == "1":
                self.bar(x + at * module, y, module, height + (guard if at in EAN13_GUARDS else 0))
        full = symbol.get_fullcode()
        if human_readable:
            top = y + height + DIGITS_GAP_MODULES * module
            font = _font(DIGITS_FONT, DIGITS_HEIGHT_MODULES * module)
            self._draw.text((x - module, top), full[0], font=font, fill=INK, anchor="ra")
            self._digits(full[1:7], x + 3 * module, x + 45 * module, top, font)
            self._digits(full[7:], x + 50 * module, x + 92 * module, top, font)
        return full

    def code128(self, x: int, y: int, *, module: int, height: int, data: str, human_readable: bool) -> None:
        """Code 128 with python-barcode's choice of code sets, bars from ``x``."""
        pattern = barcode.get("code128", data).build()[0]
        for at, bit in enumerate(pattern):
            if bit == "1":
                self.bar(x + at * module, y, module, height)
        if human_readable:
            font = _font(DIGITS_FONT, DIGITS_HEIGHT_MODULES * module)
            self._digits(data, x, x + len(pattern) * module, y + height + DIGITS_GAP_MODULES * module, font)

    def text(self, x: int, y: int, height: int, text: str) -> None:
        """One line in the printer's own font, ``height`` dots from its top to its descender."""
        self._draw.fontmode = "1"  # a thermal head has no grey
        self._draw.text((x, y), text, font=_font(RESIDENT_FONT, height), fill=INK)

    def png(self) -> bytes:
        return png_of(self.image, self.dpmm)

    def _digits(self, text: str, left: int, right: int, top: int, font: ImageFont.FreeTypeFont) -> None:
        self._draw.fontmode = "1"
        self._draw.text(((left + right) // 2, top), text, font=font, fill=INK, anchor="ma")


def png_of(image: Image.Image, dpmm: int) -> bytes:
    """A label's PNG, its resolution written in (dots per mm as dots per inch)."""
    out = io.BytesIO()
    dpi = round(dpmm * 25.4)
    image.save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), max(size, 1))
