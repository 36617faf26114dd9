"""A tag laid out on its template: words wrapped to their boxes, the price as large as
fits, the barcode the tag's own, and tags that would lie refused.

Widths are checked with Pillow directly, at another resolution than the layout's own,
and wrapped text is checked against the name it came from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ImageFont

from bus.payloads import DeviceError, ErrorCode
from devices.labels.layout import (
    ELLIPSIS,
    BarcodeBlock,
    RuleBlock,
    TagLayout,
    TextBlock,
    baselines,
    lay_out,
    line_metrics,
    strike_rules,
)
from devices.labels.tag import LabelRefused, TagUnitPrice
from devices.labels.template import font_path, load_template
from devices.labels.wording import printable, rubles
from tests.devices.labels.shelf_tags import MILK_GTIN, bread, milk
from tests.devices.labels.test_template import GOOD, write

TEMPLATES = ["a4-70x37", "promo-58x40", "shelf-58x40", "small-43x25"]

#: The oracle's resolution: not the layout's, so a rounding there shows here.
ORACLE_DPMM = 80
#: What two resolutions may disagree by over a line, mm.
ORACLE_SLACK_MM = 0.15

CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
NAME_CHARACTERS = CYRILLIC + LATIN + "0123456789 ,.%-«»()/№" + "   "


def width_mm(text: str, font: str, size: float) -> float:
    face = ImageFont.truetype(str(font_path(font)), size=size * ORACLE_DPMM, layout_engine=ImageFont.Layout.BASIC)
    return face.getlength(text) / ORACLE_DPMM


def text_blocks(layout: TagLayout) -> list[TextBlock]:
    return [block for block in layout.blocks if isinstance(block, TextBlock)]


NBSP = "\u00a0"


def block_of(layout: TagLayout, template_name: str, field: str) -> TextBlock | BarcodeBlock:
    """The block of a template's field: blocks follow the template's fields in order."""
    template = load_template(template_name)
    box = next(f.box for f in template.fields if f.name == field)
    return next(b for b in layout.blocks if not isinstance(b, RuleBlock) and (b.x, b.y) == (box.x, box.y))


def assert_within_box(block: TextBlock) -> None:
    for line, baseline in zip(block.lines, baselines(block), strict=True):
        assert width_mm(line, block.font, block.size) <= block.width + ORACLE_SLACK_MM, line
        ascent, descent = line_metrics(block.font, block.size)
        assert block.y - 1e-6 <= baseline - ascent and baseline + descent <= block.y + block.height + 1e-6


names = st.one_of(
    st.text(alphabet=NAME_CHARACTERS, min_size=1, max_size=256),
    # Long words: a brand or an article number with no space to break at.
    st.lists(st.text(alphabet=CYRILLIC + LATIN, min_size=1, max_size=60), min_size=1, max_size=8).map(" ".join),
).filter(lambda name: name.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, template=st.sampled_from(TEMPLATES))
def test_any_name_wraps_inside_its_box_and_is_cut_with_an_ellipsis(name: str, template: str):
    layout = lay_out(milk(name=name), load_template(template))
    field = next(f for f in load_template(template).fields if f.name == "name")
    block = block_of(layout, template, "name")
    assert isinstance(block, TextBlock)
    assert 1 <= len(block.lines) <= field.max_lines
    assert field.floor <= block.size <= field.size
    assert_within_box(block)
    cut = block.lines[-1].endswith(ELLIPSIS)
    printed = "".join(block.lines).removesuffix(ELLIPSIS).replace(" ", "").replace(NBSP, "")
    whole = printable(name).replace(" ", "").replace(NBSP, "")
    # The words in order, none lost in the middle; the end only when cut, and then "…".
    assert whole.startswith(printed)
    assert (printed != whole) == cut
    if cut:
        assert block.size == field.floor


def test_a_short_name_keeps_the_largest_size():
    layout = lay_out(milk(name="Кефир 1 %"), load_template("shelf-58x40"))
    block = block_of(layout, "shelf-58x40", "name")
    assert block.lines == (f"Кефир 1{NBSP}%",) and block.size == 3.4


def test_a_long_name_shrinks_before_it_is_cut():
    name = "Сыр полутвёрдый «Российский» молодой 50 % весовой из коровьего молока"
    layout = lay_out(milk(name=name), load_template("a4-70x37"))
    block = block_of(layout, "a4-70x37", "name")
    assert block.size < 3.4 and not block.lines[-1].endswith(ELLIPSIS)
    assert " ".join(block.lines).replace(NBSP, " ") == name


def test_a_number_and_its_unit_stay_on_one_line():
    block = block_of(
        lay_out(milk(name="Сыр Умалат Рикотта 40% 250 г"), load_template("shelf-58x40")), "shelf-58x40", "name"
    )
    assert block.lines == ("Сыр Умалат Рикотта 40%", f"250{NBSP}г")


def test_a_name_too_long_for_the_tag_ends_in_an_ellipsis():
    name = " ".join(["Шоколад молочный с цельным фундуком и изюмом"] * 6)[:256]
    block = block_of(lay_out(milk(name=name), load_template("small-43x25")), "small-43x25", "name")
    assert len(block.lines) == 2 and block.size == 2.3
    assert block.lines[0] == "Шоколад молочный с цельным"
    assert block.lines[1].endswith(ELLIPSIS) and block.lines[1].startswith("фундуком и изюмом")
    assert_within_box(block)


def test_an_overlong_word_is_broken_to_fit():
    word = "Сверхдлинноенаименованиебезединогопробеламеждусловамивообще"
    block = block_of(lay_out(milk(name=word), load_template("shelf-58x40")), "shelf-58x40", "name")
    assert len(block.lines) >= 2
    assert "".join(block.lines) == word
    assert_within_box(block)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("kopecks", [0, 990, 12345, 123456, 99999999, 10**10])
def test_the_price_is_as_large_as_fits_and_never_cut(template: str, kopecks: int):
    old_price = kopecks + 1 if kopecks < 10**10 else None
    if template.startswith("promo") and old_price is None:
        with pytest.raises(LabelRefused, match="old price"):
            lay_out(milk(price=kopecks, old_price=None), load_template(template))
        return
    block = block_of(lay_out(milk(price=kopecks, old_price=old_price), load_template(template)), template, "price")
    assert block.lines == (rubles(kopecks),)
    assert_within_box(block)
    field = next(f for f in load_template(template).fields if f.name == "price")
    if block.size < field.size:
        # One step larger would not have fitted: too wide, or too tall.
        larger = block.size / 0.95
        ascent, descent = line_metrics(block.font, larger)
        too_wide = width_mm(rubles(kopecks), block.font, larger) > block.width - ORACLE_SLACK_MM
        assert too_wide or ascent + descent > block.height


def test_a_larger_price_is_printed_smaller():
    sizes = [
        block_of(lay_out(milk(price=p, old_price=None), load_template("shelf-58x40")), "shelf-58x40", "price").size
        for p in (990, 1234500, 10**10)
    ]
    assert sizes[0] > sizes[1] > sizes[2]


def test_a_price_that_does_not_fit_even_small_is_refused(tmp_path: Path):
    narrow = GOOD.replace("x = 1.0, y = 10.0, width = 38.0", "x = 1.0, y = 10.0, width = 20.0")
    template = load_template("test-40x30", folder=write(tmp_path, narrow))
    lay_out(milk(price=990), template)
    with pytest.raises(LabelRefused, match="price"):
        lay_out(milk(price=12345678), template)


def test_the_unit_price_and_grade_print_when_the_product_has_them():
    layout = lay_out(milk(), load_template("shelf-58x40"))
    lines = [line for block in text_blocks(layout) for line in block.lines]
    assert "132,74\u00a0₽ за 1 л" in lines
    assert "высший сорт" in lines


def test_optional_fields_are_skipped_on_a_tag_without_them():
    layout = lay_out(bread(), load_template("shelf-58x40"))
    lines = [line for block in text_blocks(layout) for line in block.lines]
    assert lines[0] == "Хлеб Бородинский нарезка"
    assert not any("за 1" in line for line in lines)
    assert len(text_blocks(layout)) == 3  # name, price, meta


def test_a_field_the_tag_lacks_is_refused_unless_optional(tmp_path: Path):
    grade = '\n[[fields]]\nname = "grade"\nbox = { x = 1.0, y = 20.0, width = 20.0, height = 1.0 }\nsize = 0.8\n'
    template = load_template("test-40x30", folder=write(tmp_path, GOOD + grade))
    with pytest.raises(LabelRefused) as refused:
        lay_out(bread(), template)
    assert refused.value.details == {"sku": "BRD-77", "field": "grade"}
    lay_out(milk(), template)


@pytest.mark.parametrize("gtin", ["4601234567890", "4601234567894", "036000291453", "96385075", "10012345678903"])
def test_a_wrong_gtin_check_digit_is_refused_before_anything(gtin: str):
    with pytest.raises(LabelRefused) as refused:
        lay_out(milk(gtin=gtin), load_template("shelf-58x40"))
    assert isinstance(refused.value, DeviceError)
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert refused.value.details == {"sku": "MLK-930", "gtin": gtin}
    assert "MLK-930" in refused.value.message and "check digit" in refused.value.message


@pytest.mark.parametrize(
    ("gtin", "symbology", "data"),
    [
        (MILK_GTIN, "ean13", MILK_GTIN),
        ("036000291452", "ean13", "0036000291452"),  # UPC-A as EAN-13 with a leading 0
        ("04601234567893", "ean13", MILK_GTIN),  # a GTIN-14 that is a GTIN-13
        ("96385074", "code128", "96385074"),  # GTIN-8: scans as the same 8 digits
        ("10012345678902", "code128", "10012345678902"),
    ],
)
def test_the_barcode_is_the_products_gtin(gtin: str, symbology: str, data: str):
    block = block_of(lay_out(milk(gtin=gtin), load_template("shelf-58x40")), "shelf-58x40", "barcode")
    assert isinstance(block, BarcodeBlock)
    assert (block.symbology, block.data, block.human_readable) == (symbology, data, True)


def test_without_a_gtin_the_barcode_is_code_128_of_the_sku():
    block = block_of(lay_out(bread(), load_template("small-43x25")), "small-43x25", "barcode")
    assert (block.symbology, block.data, block.human_readable) == ("code128", "BRD-77", False)


@pytest.mark.parametrize("sku", ["ХЛЕБ-1", "BREAD-WITH-A-VERY-LONG-ARTICLE-NUMBER-0001"])
def test_a_sku_that_cannot_be_a_barcode_is_refused(sku: str):
    with pytest.raises(LabelRefused, match=sku):
        lay_out(bread(sku=sku), load_template("shelf-58x40"))


def test_a_promotion_tag_strikes_the_old_price_through():
    layout = lay_out(milk(), load_template("promo-58x40"))
    old = block_of(layout, "promo-58x40", "old_price")
    assert old.lines == (rubles(15990),) and old.strike
    (rule,) = strike_rules(old)
    (baseline,) = baselines(old)
    # Across the digits' ink, between their foot and their top.
    face = ImageFont.truetype(str(font_path(old.font)), size=old.size * ORACLE_DPMM)
    ink = face.getmask(old.lines[0]).getbbox()
    assert (ink[2] - ink[0]) / ORACLE_DPMM == pytest.approx(rule.width, abs=ORACLE_SLACK_MM)
    assert baseline - 0.73 * old.size < rule.y < baseline
    caption = block_of(layout, "promo-58x40", "caption")
    assert caption.lines == ("АКЦИЯ",)
    frame = [block for block in layout.blocks if isinstance(block, RuleBlock)]
    assert len(frame) == 5  # four sides and the separator


@pytest.mark.parametrize("old_price", [None, 12345, 10000])
def test_a_promotion_without_a_higher_old_price_is_refused(old_price: int | None):
    with pytest.raises(LabelRefused) as refused:
        lay_out(milk(old_price=old_price), load_template("promo-58x40"))
    assert refused.value.details == {"sku": "MLK-930", "template": "promo-58x40"}


def test_the_meta_line_is_small_and_may_be_cut():
    store = "Гипермаркет «Очень длинное название торгового центра» на проспекте Ленина, дом 100500"
    block = block_of(lay_out(milk(store=store), load_template("small-43x25")), "small-43x25", "meta")
    assert block.lines[0].startswith("03.12.2026")
    assert block.lines[-1].endswith(ELLIPSIS)
    assert_within_box(block)


def test_a_wrapped_meta_line_does_not_end_in_its_separator():
    block = block_of(
        lay_out(milk(store="Ромашка", price_version=2), load_template("shelf-58x40")), "shelf-58x40", "meta"
    )
    assert block.lines == (f"03.12.2026{NBSP}· v2", "Ромашка")


def test_every_block_lies_on_the_tag():
    for template in TEMPLATES:
        layout = lay_out(
            milk(old_price=20000, unit_price=TagUnitPrice(amount=99999, per="100g")), load_template(template)
        )
        for block in layout.blocks:
            assert 0 <= block.x and block.x + block.width <= layout.width + 1e-9
            assert 0 <= block.y and block.y + block.height <= layout.height + 1e-9
