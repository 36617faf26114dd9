"""A laid-out tag in a label printer's dots: what ZPL and TSPL encoders consume.

Text becomes 1-bit bitmaps (Pillow, the template's TrueType font) unless the printer's
profile says it has a resident font with Cyrillic, then it stays text.  Barcodes stay
barcodes: the printer draws its own bars, sharper than any bitmap.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from devices.labels.layout import Symbology, TagLayout


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
    raise NotImplementedError
