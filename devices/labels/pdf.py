"""Shelf tags on A4 sheets, for the back office's ordinary printer.

``a4_sheet`` puts each tag (as many times as its copies) into the template's grid (a
3x8 die-cut sheet of 70x37 mm labels for ``a4-70x37``), page after page.  The lines are
the layout's, drawn as text in the DejaVu face the template names (embedded, so
Cyrillic and "₽" print and the PDF can be searched); barcodes are reportlab's own
EAN-13 and Code 128 drawings.  A template without a sheet grid is set out on plain A4
with cutting outlines.

The file appears whole or not at all: it is written beside its final name and renamed.
Rendering is plain blocking work; the label printer actor runs it in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.eanbc import Ean13BarcodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from devices.labels.layout import (
    DIGITS_MODULES,
    QUIET_MODULES,
    BarcodeBlock,
    RuleBlock,
    TagLayout,
    TextBlock,
    barcode_modules,
    baselines,
    lay_out,
    line_x,
    strike_rules,
)
from devices.labels.tag import TagData
from devices.labels.template import PAGES, Sheet, Template, font_path

#: The grid of a template that has none of its own: plain A4 with a 10 mm border (what
#: an office printer can reach), tags side by side, cut out along their outlines.
PLAIN_MARGIN_MM = 10.0

#: The cutting outline round each tag on plain paper: a hairline, light grey.
OUTLINE_MM = 0.1
OUTLINE_GREY = 0.6

#: A written sheet is for anyone in the back office to print (mkstemp makes it 0600).
SHEET_MODE = 0o644

#: The barcode digits' font: reportlab's built-in Helvetica has every digit.
DIGITS_FONT = "Helvetica"


@dataclass(frozen=True)
class SheetInfo:
    """What was written: how many pages, how many tags (copies counted), where."""

    pages: int
    tags: int
    path: Path


def a4_sheet(tags: list[tuple[TagData, int]], template: Template, path: Path, *, name: str | None = None) -> SheetInfo:
    """Write ``tags`` (each with its copies) as A4 pages into the folder ``path``.

    Every tag is laid out first, so a ``LabelRefused`` leaves no file behind.  The file
    is ``name`` or ``labels-{template}-{UTC time}-{random}.pdf``.
    """
    layouts = [layout for tag, copies in tags for layout in [lay_out(tag, template)] * copies]
    data = sheet_pdf(layouts, template)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or _file_name(template))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.stem}-", suffix=".pdf.tmp")
    try:
        os.fchmod(handle, SHEET_MODE)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return SheetInfo(sheet_pages(len(layouts), template), len(layouts), target)


def sheet_pdf(layouts: Sequence[TagLayout], template: Template) -> bytes:
    """The PDF of laid-out tags, one grid cell each (a tag printed twice is in the list
    twice), as many pages as they need."""
    grid = sheet_grid(template)
    page_width, page_height = PAGES[grid.page]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(page_width * mm, page_height * mm), pageCompression=1)
    canvas.setTitle(f"Shelf tags: {template.name}")
    canvas.setCreator("StoreHub")
    for number, layout in enumerate(layouts):
        cell = number % grid.per_page
        if cell == 0 and number > 0:
            canvas.showPage()
        column, row = cell % grid.columns, cell // grid.columns
        left = grid.margin_left + column * (template.width + grid.gap_x)
        top = grid.margin_top + row * (template.height + grid.gap_y)
        _draw_tag(canvas, layout, _Place(left, top, page_height), outline=template.sheet is None)
    canvas.save()
    return out.getvalue()


def sheet_pages(tags: int, template: Template) -> int:
    """Pages ``tags`` tags take (an empty run is one blank page)."""
    return max(-(-tags // sheet_grid(template).per_page), 1)


def sheet_grid(template: Template) -> Sheet:
    """The template's own grid, or as many tags as fit plain A4 inside its border."""
    if template.sheet is not None:
        return template.sheet
    page_width, page_height = PAGES["A4"]
    columns = max(int((page_width - 2 * PLAIN_MARGIN_MM) // template.width), 1)
    rows = max(int((page_height - 2 * PLAIN_MARGIN_MM) // template.height), 1)
    return Sheet(
        columns=columns,
        rows=rows,
        margin_left=(page_width - columns * template.width) / 2,
        margin_top=(page_height - rows * template.height) / 2,
    )


def _file_name(template: Template) -> str:
    moment = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"labels-{template.name}-{moment}-{secrets.token_hex(3)}.pdf"


@dataclass(frozen=True)
class _Place:
    """A tag's top-left corner on the page, mm, and the page's height: the layout
    counts down from the tag's top, PDF up from the page's foot."""

    left: float
    top: float
    page_height: float

    def x(self, x: float) -> float:
        return (self.left + x) * mm

    def y(self, y: float) -> float:
        return (self.page_height - self.top - y) * mm


def _draw_tag(canvas: Canvas, layout: TagLayout, place: _Place, *, outline: bool) -> None:
    if outline:
        canvas.saveState()
        canvas.setLineWidth(OUTLINE_MM * mm)
        canvas.setStrokeGray(OUTLINE_GREY)
        canvas.rect(place.x(0), place.y(layout.height), layout.width * mm, layout.height * mm, stroke=1, fill=0)
        canvas.restoreState()
    for block in layout.blocks:
        if isinstance(block, TextBlock):
            _draw_text(canvas, block, place)
        elif isinstance(block, BarcodeBlock):
            _draw_barcode(canvas, block, place)
        else:
            _draw_rule(canvas, block, place)


def _draw_rule(canvas: Canvas, rule: RuleBlock, place: _Place) -> None:
    canvas.rect(place.x(rule.x), place.y(rule.y + rule.height), rule.width * mm, rule.height * mm, stroke=0, fill=1)


def _draw_text(canvas: Canvas, block: TextBlock, place: _Place) -> None:
    canvas.setFont(_registered(block.font), block.size * mm)
    for line, baseline in zip(block.lines, baselines(block), strict=True):
        canvas.drawString(place.x(line_x(block, line)), place.y(baseline), line)
    for rule in strike_rules(block):
        _draw_rule(canvas, rule, place)


def _registered(font: str) -> str:
    """The font under its stem in reportlab's registry (embedded as a subset)."""
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(font, str(font_path(font))))
    return font


def _draw_barcode(canvas: Canvas, block: BarcodeBlock, place: _Place) -> None:
    """The symbol at its box's left, its module as wide as the box allows."""
    modules = barcode_modules(block.symbology, block.data)
    module = block.width / modules
    digits = DIGITS_MODULES * module if block.human_readable else 0.0
    x = place.x(block.x)
    y = place.y(block.y + block.height)
    if block.symbology == "ean13":
        # The widget's bar height includes the digits: the short bars stop above them.
        # Its quiet zones (9 modules each side) add up to the 18 counted for the box.
        widget = Ean13BarcodeWidget(
            block.data[:12],
            barWidth=module * mm,
            barHeight=block.height * mm,
            humanReadable=block.human_readable,
            fontName=DIGITS_FONT,
            # Digits 7/10 of the room (reportlab leaves 1.2 times that under the bars).
            fontSize=digits * 0.7 * mm,
        )
        drawing = Drawing(widget.width, block.height * mm)
        drawing.add(widget)
        renderPDF.draw(drawing, canvas, x, y)
        return
    symbol = Code128(
        block.data,
        barWidth=module * mm,
        barHeight=(block.height - digits) * mm,
        humanReadable=block.human_readable,
        fontName=DIGITS_FONT,
        fontSize=digits * 0.8 * mm,
        lquiet=QUIET_MODULES["code128"][0] * module * mm,
        rquiet=QUIET_MODULES["code128"][1] * module * mm,
    )
    # reportlab packs digit runs as python-barcode does; where it packs them
    # differently the symbol still starts at the box's left.
    symbol.drawOn(canvas, x, y + digits * mm)
