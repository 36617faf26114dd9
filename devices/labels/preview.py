"""A tag as a picture before it prints: what the managers' page shows as a preview.

The tag is laid out on its template (``layout``) and put in a label printer's dots
(``raster``) exactly as the label printer does before it encodes the dots in ZPL or
TSPL.  Those dots are then drawn the way a printer draws them, on the simulated
printers' paper (``devices.sim.label_canvas``): bitmaps as sent, rules, the bars of
each barcode from its own pattern with the digits under them, resident text in the
printer's stand-in font.  So the picture is the tag the printer makes, not a second
drawing of it that could drift from the first.
"""

from __future__ import annotations

from devices.labels.layout import lay_out
from devices.labels.raster import Bitmap, Box, DotBarcode, DotLabel, ResidentText, rasterize
from devices.labels.tag import TagData
from devices.labels.template import Template
from devices.sim.label_canvas import LabelCanvas


def tag_png(tag: TagData, template: Template, *, dpmm: int, resident_font: bool = False) -> bytes:
    """The tag on ``template`` at ``dpmm`` as a PNG, one pixel a dot, its resolution
    written in; ``LabelRefused`` when the tag cannot be printed right."""
    return dots_png(rasterize(lay_out(tag, template), dpmm=dpmm, resident_font=resident_font))


def dots_png(label: DotLabel) -> bytes:
    """A label's dots drawn as its printer draws them, as a PNG."""
    canvas = LabelCanvas(label.width, label.height, label.dpmm)
    for item in label.items:
        match item:
            case Bitmap():
                canvas.bitmap(item.x, item.y, item.image)
            case Box():
                canvas.bar(item.x, item.y, item.width, item.height)
            case ResidentText():
                canvas.text(item.x, item.y, item.height, item.text)
            case DotBarcode(symbology="ean13"):
                canvas.ean13(
                    item.x, item.y, module=item.module, height=item.height, digits=item.data,
                    human_readable=item.human_readable,
                )  # fmt: skip
            case DotBarcode():
                canvas.code128(
                    item.x, item.y, module=item.module, height=item.height, data=item.data,
                    human_readable=item.human_readable,
                )  # fmt: skip
    return canvas.png()
