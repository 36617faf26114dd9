"""Label templates are data files; a wrong one is refused with the template and field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.payloads import DeviceError, ErrorCode
from devices.labels.template import (
    TEMPLATES,
    BarcodeField,
    FontMissing,
    TemplateError,
    TextField,
    font_path,
    known_templates,
    load_template,
)

SHIPPED = ["a4-70x37", "promo-58x40", "shelf-58x40", "small-43x25"]

#: A small valid template; each bad case below changes one line of it.
GOOD = """
name = "test-40x30"
width = 40.0
height = 30.0

[[fields]]
name = "name"
box = { x = 1.0, y = 1.0, width = 38.0, height = 8.0 }
font = "DejaVuSans-Bold"
size = 3.0
max_lines = 2

[[fields]]
name = "price"
box = { x = 1.0, y = 10.0, width = 38.0, height = 10.0 }
font = "DejaVuSans-Bold"
size = 8.0
min_size = 4.0

[[fields]]
name = "barcode"
box = { x = 1.0, y = 21.0, width = 38.0, height = 8.0 }
"""


def write(folder: Path, text: str, name: str = "test-40x30") -> Path:
    (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder


def test_the_four_shipped_templates_load():
    assert known_templates() == SHIPPED
    for name in SHIPPED:
        template = load_template(name)
        assert template.name == name
        names = [field.name for field in template.fields]
        assert {"name", "price", "barcode", "meta"} <= set(names)
        assert all(template.holds(field.box) for field in template.fields)


def test_the_a4_cell_says_its_sheet_grid():
    template = load_template("a4-70x37")
    assert (template.width, template.height) == (70.0, 37.0)
    assert template.sheet is not None
    assert (template.sheet.page, template.sheet.columns, template.sheet.rows) == ("A4", 3, 8)
    assert template.sheet.per_page == 24


def test_the_promotion_template_strikes_its_old_price():
    template = load_template("promo-58x40")
    old = next(field for field in template.fields if field.name == "old_price")
    assert isinstance(old, TextField) and old.strike and not old.optional


def test_fields_are_text_or_the_barcode():
    template = load_template("shelf-58x40")
    kinds = {field.name: type(field) for field in template.fields}
    assert kinds["barcode"] is BarcodeField
    assert kinds["price"] is TextField


def test_a_valid_template_loads_from_any_folder(tmp_path: Path):
    template = load_template("test-40x30", folder=write(tmp_path, GOOD))
    assert [field.name for field in template.fields] == ["name", "price", "barcode"]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (('name = "price"', 'name = "discount"'), "discount", "no such field"),
        (('name = "price"', 'name = "currency"'), "currency", "no such field"),
        (("y = 21.0, width = 38.0, height = 8.0", "y = 23.0, width = 38.0, height = 8.0"), "barcode", "outside"),
        (("x = 1.0, y = 10.0, width = 38.0", "x = 3.0, y = 10.0, width = 38.0"), "price", "outside"),
        (('font = "DejaVuSans-Bold"\nsize = 8.0', 'font = "Arial"\nsize = 8.0'), "price", "unknown font"),
        (("min_size = 4.0", "min_size = 9.0"), "price", "min_size"),
        (("max_lines = 2", "max_lines = 0"), "name", "max_lines"),
        (("size = 3.0", 'size = "big"'), "name", "size"),
        (("size = 3.0", "size = 3.0\ncolour = 'red'"), "name", "colour"),
    ],
)
def test_a_bad_field_is_refused_naming_template_and_field(tmp_path: Path, change, field: str, says: str):
    old, new = change
    assert old in GOOD
    folder = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(TemplateError) as refused:
        load_template("test-40x30", folder=folder)
    assert isinstance(refused.value, DeviceError)
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert refused.value.details == {"template": "test-40x30", "field": field}
    assert refused.value.message.startswith(f"template test-40x30, field {field}: ")
    assert says in refused.value.message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD.replace('name = "test-40x30"', 'name = "other"'), "its name is 'other'"),
        (GOOD + "[[rules]]\nx = 30.0\ny = 1.0\nwidth = 20.0\nheight = 1.0\n", "rule 1 lies outside"),
        (GOOD + "[sheet]\ncolumns = 6\nrows = 8\n", "larger than A4"),
        (GOOD + "[[fields]]\nname = 'caption'\nbox = { x = 1, y = 1, width = 5, height = 5 }\nsize = 2\n", "caption"),
        ("name = [", "not a TOML file"),
    ],
)
def test_a_bad_template_is_refused_with_what_is_wrong(tmp_path: Path, text: str, says: str):
    with pytest.raises(TemplateError) as refused:
        load_template("test-40x30", folder=write(tmp_path, text))
    assert refused.value.message.startswith("template test-40x30")
    assert says in refused.value.message


@pytest.mark.parametrize("name", ["no-such-tag", "../templates/shelf-58x40", "Shelf-58x40", ""])
def test_an_unknown_template_is_refused_and_the_known_ones_listed(name: str):
    with pytest.raises(TemplateError) as refused:
        load_template(name)
    assert "no such template" in refused.value.message
    assert "shelf-58x40" in refused.value.message


def test_fonts_are_debians_dejavu():
    assert font_path("DejaVuSans-Bold") == Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    with pytest.raises(ValueError, match="unknown font"):
        font_path("Comic Sans")


def test_a_missing_font_says_which_package_brings_it(monkeypatch, tmp_path: Path):
    monkeypatch.setattr("devices.labels.template.FONT_DIR", tmp_path)
    with pytest.raises(FontMissing) as missing:
        font_path("DejaVuSans")
    assert missing.value.code == ErrorCode.DEVICE_ERROR
    assert "fonts-dejavu-core" in missing.value.message
    assert missing.value.details == {"font": "DejaVuSans"}


def test_templates_ship_inside_the_package():
    assert TEMPLATES == Path(__file__).parents[3] / "devices" / "labels" / "templates"
