"""Tags on A4 sheets, read back by code nobody here wrote: pypdfium2 renders each page
and extracts its text, zxing-cpp decodes every barcode on the rendered page."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from devices.gtin import gtin_check_digit
from devices.labels.layout import lay_out
from devices.labels.pdf import SheetInfo, a4_sheet, sheet_pages, sheet_pdf
from devices.labels.tag import LabelRefused, TagData
from devices.labels.template import load_template
from devices.labels.wording import rubles
from tests.devices.labels.shelf_tags import bread, milk

#: What the office printer's driver would rasterize at.
RENDER_DPI = 300

NBSP = "\u00a0"

FORMATS = {zxingcpp.BarcodeFormat.EAN13: "ean13", zxingcpp.BarcodeFormat.Code128: "code128"}


def gtin(number: int) -> str:
    body = f"460{number:09d}"
    return body + str(gtin_check_digit(body))


def assortment() -> list[tuple[TagData, int]]:
    """Ten products, 30 tags: seven with a GTIN, three known by their SKU only."""
    with_gtin = [
        (milk(sku=f"MLK-{n}", gtin=gtin(1000 + n), name=f"Молоко «Вкуснотеево» {n} %", price=8990 + n), copies)
        for n, copies in zip(range(7), [1, 2, 3, 4, 5, 6, 1], strict=True)
    ]
    by_sku = [
        (bread(sku=f"BRD-{n}", name=f"Хлеб ржаной №{n}", price=3990 + 100 * n), copies)
        for n, copies in [(1, 2), (2, 3), (3, 3)]
    ]
    return with_gtin + by_sku


def pages(path: Path) -> list[pdfium.PdfPage]:
    return list(pdfium.PdfDocument(str(path)))


def decoded(page: pdfium.PdfPage) -> list[tuple[str, str]]:
    """Every barcode zxing-cpp finds on the page rendered at 300 dpi.  Only at that
    resolution: its extra passes over downscaled copies blur 0.35 mm bars until a
    zero-heavy EAN-13 now and then reads as another valid one."""
    image = page.render(scale=RENDER_DPI / 72, grayscale=True).to_pil()
    found = zxingcpp.read_barcodes(image, try_downscale=False)
    return [(FORMATS[code.format], code.text) for code in found if code.format in FORMATS]


def page_text(page: pdfium.PdfPage) -> str:
    """The page's text as pdfium extracts it.  A no-break space comes back as a space:
    DejaVu draws both with one glyph, and the PDF maps the glyph back to U+0020."""
    return page.get_textpage().get_text_range().replace(" ", NBSP)


def printed(text: str) -> str:
    return text.replace(" ", NBSP)


def test_thirty_tags_make_two_pages_and_every_barcode_scans(tmp_path: Path):
    tags = assortment()
    info = a4_sheet(tags, load_template("a4-70x37"), tmp_path)
    assert isinstance(info, SheetInfo)
    assert (info.pages, info.tags) == (2, 30)
    assert info.path.parent == tmp_path and info.path.name.startswith("labels-a4-70x37-")
    document = pages(info.path)
    assert len(document) == 2
    width, height = document[0].get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
    scanned = [decoded(page) for page in document]
    assert [len(found) for found in scanned] == [24, 6]
    expected = collections.Counter(
        ("ean13", tag.gtin) if tag.gtin else ("code128", tag.sku) for tag, copies in tags for _ in range(copies)
    )
    assert collections.Counter(found for page in scanned for found in page) == expected


def test_the_page_text_has_the_names_and_prices(tmp_path: Path):
    tags = [(milk(), 1), (bread(price=123450), 2)]
    info = a4_sheet(tags, load_template("a4-70x37"), tmp_path, name="shelf.pdf")
    assert info.path == tmp_path / "shelf.pdf"
    text = page_text(pages(info.path)[0])
    assert text.count(rubles(12345)) == 1
    assert text.count(rubles(123450)) == 2
    assert "1\u202f234,50" in text  # the thousands' narrow no-break space survives
    assert text.count(printed("Хлеб Бородинский нарезка")) == 2
    assert printed("132,74 ₽ за 1 л") in text
    # The name is wrapped as the layout wrapped it: the same lines, in order.
    name = lay_out(milk(), load_template("a4-70x37")).blocks[1]
    assert name.lines == ("Молоко пастеризованное «Домик в", "деревне» 3,2\u00a0% 930\u00a0мл в бутылке ПЭТ")
    assert printed("\r\n".join(name.lines)) in text


def test_a_promotion_sheet_has_the_old_price_too(tmp_path: Path):
    info = a4_sheet([(milk(), 1)], load_template("promo-58x40"), tmp_path)
    text = page_text(pages(info.path)[0])
    assert rubles(15990) in text and rubles(12345) in text and "АКЦИЯ" in text
    assert text.index(rubles(15990)) < text.index(rubles(12345))


def test_a_template_without_a_grid_fills_plain_a4(tmp_path: Path):
    template = load_template("shelf-58x40")
    # 3 x 6 tags of 58 x 40 mm inside a 10 mm border.
    assert sheet_pages(18, template) == 1 and sheet_pages(19, template) == 2
    info = a4_sheet([(milk(sku=f"M{n}", gtin=gtin(n)), 1) for n in range(19)], template, tmp_path)
    assert info.pages == 2
    assert [len(decoded(page)) for page in pages(info.path)] == [18, 1]


def test_a_refused_tag_leaves_no_file(tmp_path: Path):
    tags = [(milk(), 1), (milk(sku="BAD-1", gtin="4601234567890"), 1)]
    with pytest.raises(LabelRefused) as refused:
        a4_sheet(tags, load_template("a4-70x37"), tmp_path)
    assert refused.value.details["sku"] == "BAD-1"
    assert list(tmp_path.iterdir()) == []


def test_the_sheet_appears_whole_and_readable(tmp_path: Path):
    info = a4_sheet([(bread(), 1)], load_template("a4-70x37"), tmp_path / "sheets")
    assert [path.name for path in (tmp_path / "sheets").iterdir()] == [info.path.name]
    assert info.path.read_bytes().startswith(b"%PDF-") and info.path.read_bytes().rstrip().endswith(b"%%EOF")
    assert os.stat(info.path).st_mode & 0o777 == 0o644


def test_the_sheet_is_the_same_bytes_as_its_pdf(tmp_path: Path):
    template = load_template("small-43x25")
    layouts = [lay_out(bread(), template)] * 3
    data = sheet_pdf(layouts, template)
    document = pdfium.PdfDocument(data)
    assert len(document) == 1
    assert [found for found in decoded(document[0])] == [("code128", "BRD-77")] * 3
