"""Shelf tags made by hand in a printer's dots, for the printer languages and simulators.

Not the templates' raster: these tests check the wire, so each item is placed here on
purpose — the product's name in Cyrillic and the price as bitmaps drawn by Pillow from
DejaVu, an EAN-13 of a real GTIN, a Code 128, two rules — and the checks read them back
with code nobody here wrote (zxing-cpp, zplkit, tesseract).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from devices.labels.raster import Bitmap, Box, DotBarcode, DotLabel, ResidentText

FONTS = "/usr/share/fonts/truetype/dejavu"
GTIN = "4601234567893"
CODE128 = "SKU-7"
#: What zxing-cpp must read off every hand tag.
BARCODES = {zxingcpp.BarcodeFormat.EAN13: GTIN, zxingcpp.BarcodeFormat.Code128: CODE128}
NAME = "Молоко 3,2%"
PRICE = "1 234,50"
#: A tag's size: the 58 x 40 mm shelf tag.
WIDTH_MM, HEIGHT_MM = 58, 40


@dataclass(frozen=True)
class HandTag:
    label: DotLabel
    name: Bitmap
    price: Bitmap
    ean13: DotBarcode
    code128: DotBarcode
    rules: tuple[Box, ...]


def text_bitmap(text: str, *, x: int, y: int, size: int, bold: bool = False) -> Bitmap:
    """``text`` drawn by Pillow at ``size`` pixels, cropped to its ink, as a mode "1" bitmap."""
    font = ImageFont.truetype(f"{FONTS}/DejaVuSans{'-Bold' if bold else ''}.ttf", size)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right + 4, bottom + 4), 255)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"
    draw.text((2, 2), text, font=font, fill=0)
    ink = canvas.point(lambda value: 255 - value).getbbox()
    assert ink is not None
    image = canvas.crop(ink).point(lambda value: 0 if value < 128 else 255, mode="1")
    return Bitmap(x, y, image)


def hand_tag(dpmm: int = 8, *, resident_name: bool = False) -> HandTag:
    """A 58 x 40 mm tag at ``dpmm``; the name as resident text when ``resident_name``."""
    mm = dpmm
    module = max(dpmm // 4, 1)
    name = text_bitmap(NAME, x=2 * mm, y=round(1.5 * mm), size=4 * mm)
    price = text_bitmap(PRICE, x=2 * mm, y=7 * mm, size=10 * mm, bold=True)
    ean13 = DotBarcode(2 * mm + 11 * module, 20 * mm, 10 * mm, module, "ean13", GTIN, True)
    ean_end = ean13.x + 95 * module + 7 * module
    code128 = DotBarcode(ean_end + 10 * module, 20 * mm, 10 * mm, module, "code128", CODE128, True)
    rules = (Box(2 * mm, round(18.5 * mm), 54 * mm, max(mm // 2, 1)), Box(0, 39 * mm, 58 * mm, mm))
    first: Bitmap | ResidentText = name
    if resident_name:
        first = ResidentText(name.x, name.y, 4 * mm, NAME)
    items = (first, price, ean13, code128, *rules)
    return HandTag(DotLabel(WIDTH_MM * mm, HEIGHT_MM * mm, dpmm, items), name, price, ean13, code128, rules)


def png_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def same_pixels(image: Image.Image, bitmap: Bitmap) -> bool:
    """Whether ``image`` shows exactly ``bitmap`` where it was placed (ink for ink)."""
    region = image.convert("1").crop(
        (bitmap.x, bitmap.y, bitmap.x + bitmap.image.width, bitmap.y + bitmap.image.height)
    )
    return region.tobytes() == bitmap.image.convert("1").tobytes()


def decoded(image: Image.Image) -> dict[zxingcpp.BarcodeFormat, str]:
    """Every barcode zxing-cpp finds on ``image``, by format."""
    return {result.format: result.text for result in zxingcpp.read_barcodes(image)}


def all_ink(image: Image.Image, box: Box) -> bool:
    region = image.convert("L").crop((box.x, box.y, box.x + box.width, box.y + box.height))
    return region.getextrema() == (0, 0)


def ocr(image: Image.Image, *, languages: str = "rus+eng") -> str:
    """What Debian's tesseract reads on ``image`` (Makefile TEST_PACKAGES: tesseract-ocr, -rus)."""
    binary = shutil.which("tesseract")
    assert binary is not None, "tesseract is missing: `make test` installs tesseract-ocr and tesseract-ocr-rus"
    out = io.BytesIO()
    image.convert("L").save(out, "PNG")
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", languages, "--psm", "11"],
        input=out.getvalue(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode("utf-8")
