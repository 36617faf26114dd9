"""A laid-out tag in a label printer's dots, at 203 and 300 dpi: everything on the label,
text as 1-bit bitmaps inside its box (or the printer's own font), barcodes as wide as
whole dots allow without leaving their box."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.labels.layout import (
    QUIET_MODULES,
    BarcodeBlock,
    RuleBlock,
    TagLayout,
    TextBlock,
    barcode_modules,
    lay_out,
    strike_rules,
)
from devices.labels.raster import Bitmap, Box, DotBarcode, DotLabel, ResidentText, rasterize
from devices.labels.template import load_template
from tests.devices.labels.shelf_tags import bread, milk
from tests.devices.labels.test_layout import NAME_CHARACTERS, TEMPLATES


def extent(item, label: DotLabel) -> tuple[int, int, int, int]:
    """The dots an item covers: left, top, right, bottom (exclusive)."""
    if isinstance(item, Bitmap):
        return item.x, item.y, item.x + item.image.width, item.y + item.image.height
    if isinstance(item, Box):
        return item.x, item.y, item.x + item.width, item.y + item.height
    if isinstance(item, DotBarcode):
        left, right = QUIET_MODULES[item.symbology]
        bars = barcode_modules(item.symbology, item.data) - left - right
        return item.x, item.y, item.x + bars * item.module, item.y + item.height
    return item.x, item.y, item.x + 1, item.y + item.height


def assert_on_the_label(label: DotLabel) -> None:
    for item in label.items:
        left, top, right, bottom = extent(item, label)
        assert 0 <= left < right <= label.width and 0 <= top < bottom <= label.height, item


def inside(item: Bitmap, block: TextBlock, dpmm: int) -> bool:
    left, top, right, bottom = extent(item, None)
    return (
        round(block.x * dpmm) <= left
        and right <= round((block.x + block.width) * dpmm)
        and round(block.y * dpmm) <= top
        and bottom <= round((block.y + block.height) * dpmm)
    )


@pytest.mark.parametrize("dpmm", [8, 12])
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_item_lies_inside_the_label(template: str, dpmm: int):
    layout = lay_out(milk(), load_template(template))
    label = rasterize(layout, dpmm=dpmm)
    assert (label.width, label.height, label.dpmm) == (round(layout.width * dpmm), round(layout.height * dpmm), dpmm)
    assert_on_the_label(label)
    texts = [block for block in layout.blocks if isinstance(block, TextBlock)]
    bitmaps = [item for item in label.items if isinstance(item, Bitmap)]
    assert len(bitmaps) == len(texts)
    for bitmap, block in zip(bitmaps, texts, strict=True):
        assert bitmap.image.mode == "1"
        assert inside(bitmap, block, dpmm), (block.lines, bitmap)
        assert bitmap.image.getextrema()[0] == 0  # ink


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(alphabet=NAME_CHARACTERS, min_size=1, max_size=256).filter(str.strip),
    template=st.sampled_from(TEMPLATES),
    dpmm=st.sampled_from([8, 12]),
)
def test_any_name_stays_inside_its_box_in_dots(name: str, template: str, dpmm: int):
    layout = lay_out(milk(name=name), load_template(template))
    label = rasterize(layout, dpmm=dpmm)
    assert_on_the_label(label)
    name_block = next(block for block in layout.blocks if isinstance(block, TextBlock))
    first = next(item for item in label.items if isinstance(item, Bitmap))
    assert inside(first, name_block, dpmm)


def test_more_dots_per_mm_draw_the_same_tag_finer():
    layout = lay_out(milk(), load_template("shelf-58x40"))
    coarse, fine = rasterize(layout, dpmm=8), rasterize(layout, dpmm=12)
    for a, b in zip(coarse.items, fine.items, strict=True):
        assert type(a) is type(b)
        if isinstance(a, Bitmap):
            # The same ink, 1.5 times the dots (hinting moves a few).
            assert b.image.width == pytest.approx(a.image.width * 1.5, rel=0.08)


@pytest.mark.parametrize("dpmm", [8, 12])
def test_the_barcode_fills_its_box_in_whole_dots(dpmm: int):
    layout = lay_out(milk(), load_template("shelf-58x40"))
    block = next(block for block in layout.blocks if isinstance(block, BarcodeBlock))
    (bars,) = [item for item in rasterize(layout, dpmm=dpmm).items if isinstance(item, DotBarcode)]
    box_dots = round((block.x + block.width) * dpmm) - round(block.x * dpmm)
    modules = barcode_modules("ean13", block.data)
    assert modules == 113
    assert modules * bars.module <= box_dots < modules * (bars.module + 1)
    assert bars.module >= 2  # never a one-dot bar on a thermal head
    assert (bars.symbology, bars.data, bars.human_readable) == ("ean13", "4601234567893", True)
    # Room under the bars for the digits, inside the box.
    assert bars.y + bars.height < round((block.y + block.height) * dpmm)
    assert bars.x - 11 * bars.module >= round(block.x * dpmm)


def test_code_128_of_the_sku_fits_its_box():
    layout = lay_out(bread(sku="SKU-12345"), load_template("shelf-58x40"))
    (bars,) = [item for item in rasterize(layout, dpmm=8).items if isinstance(item, DotBarcode)]
    assert (bars.symbology, bars.data) == ("code128", "SKU-12345")
    block = next(block for block in layout.blocks if isinstance(block, BarcodeBlock))
    assert bars.x + (barcode_modules("code128", "SKU-12345") - 10) * bars.module <= round((block.x + block.width) * 8)


def test_the_old_price_gets_its_line_and_rules_become_boxes():
    layout = lay_out(milk(), load_template("promo-58x40"))
    label = rasterize(layout, dpmm=8)
    boxes = [item for item in label.items if isinstance(item, Box)]
    rules = [block for block in layout.blocks if isinstance(block, RuleBlock)]
    old = next(block for block in layout.blocks if isinstance(block, TextBlock) and block.strike)
    (strike,) = strike_rules(old)
    assert len(boxes) == len(rules) + 1
    assert Box(0, 0, 464, 6) in boxes  # the frame's top: 58 x 0.8 mm
    line = next(box for box in boxes if box.y == round(strike.y * 8))
    (bitmap,) = [
        item
        for item in label.items
        if isinstance(item, Bitmap) and item.y <= line.y < item.y + item.image.height and item.x < 232
    ]
    # The line crosses the old price's ink, end to end (hinting at 8 dots per mm moves
    # an edge by a few dots).
    assert abs(line.x - bitmap.x) <= 4 and abs(line.x + line.width - bitmap.x - bitmap.image.width) <= 4
    assert line.width > 150


def test_a_printer_with_a_cyrillic_font_gets_text():
    layout = lay_out(milk(), load_template("shelf-58x40"))
    label = rasterize(layout, dpmm=8, resident_font=True)
    texts = [item for item in label.items if isinstance(item, ResidentText)]
    lines = [line for block in layout.blocks if isinstance(block, TextBlock) for line in block.lines]
    assert [item.text for item in texts] == lines
    assert not any(isinstance(item, Bitmap) for item in label.items)
    price = next(item for item in texts if item.text == "123,45\u00a0₽")
    assert price.height == round(9.8 * 8)
    assert all(0 <= item.x < label.width and 0 <= item.y < label.height for item in texts)


def test_a_hand_made_layout_without_baselines_still_rasterizes():
    block = TextBlock(1, 1, 30, 5, ("Сыр",), "DejaVuSans", 3.0)
    label = rasterize(TagLayout(32, 7, (block,)), dpmm=8)
    (bitmap,) = label.items
    assert isinstance(bitmap, Bitmap) and inside(bitmap, block, 8)


def test_only_label_printer_resolutions():
    with pytest.raises(ValueError, match="dots per mm"):
        rasterize(lay_out(milk(), load_template("shelf-58x40")), dpmm=7)
