"""A tag says its money and units the way Russian shelf tags do."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.labels.tag import TagUnitPrice
from devices.labels.wording import (
    field_text,
    meta_text,
    printable,
    rubles,
    unbreakable_units,
    unit_price_text,
    words,
)
from tests.devices.labels.shelf_tags import bread, milk

NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.mark.parametrize(
    ("kopecks", "text"),
    [
        (0, "0,00 ₽"),
        (5, "0,05 ₽"),
        (4990, "49,90 ₽"),
        (99999, "999,99 ₽"),
        (123450, f"1{NNBSP}234,50 ₽"),
        (1000000000, f"10{NNBSP}000{NNBSP}000,00 ₽"),
        (-3799, "\u221237,99 ₽"),
        (-5, "\u22120,05 ₽"),
        (-123450, f"\u22121{NNBSP}234,50 ₽"),
    ],
)
def test_roubles_have_grouped_thousands_a_decimal_comma_and_the_sign(kopecks: int, text: str):
    assert rubles(kopecks) == text.replace(" ₽", f"{NBSP}₽")


@given(st.integers(min_value=-(10**10), max_value=10**10))
def test_any_amount_reads_back_to_its_kopecks(kopecks: int):
    text = rubles(kopecks)
    match = re.fullmatch(rf"(\u2212?)(\d{{1,3}}(?:{NNBSP}\d{{3}})*),(\d\d){NBSP}₽", text)
    assert match, text
    sign = -1 if match[1] else 1
    assert sign * (int(match[2].replace(NNBSP, "")) * 100 + int(match[3])) == kopecks
    assert kopecks != 0 or not match[1]  # no "−0,00 ₽"
    # Nothing in it lets a line break inside the price.
    assert " " not in text


@pytest.mark.parametrize(
    ("per", "basis"), [("kg", "за 1 кг"), ("l", "за 1 л"), ("100g", "за 100 г"), ("100ml", "за 100 мл")]
)
def test_the_unit_price_names_its_basis_in_russian(per: str, basis: str):
    assert unit_price_text(TagUnitPrice(amount=12345, per=per)) == f"123,45{NBSP}₽ {basis}"


def test_the_meta_line_is_date_price_version_and_store():
    assert meta_text(milk()) == f"03.12.2026{NBSP}· v17{NBSP}· Магазин №12 на Ленина"


def test_fields_a_tag_has_not_got_are_none():
    tag = bread()
    assert [field_text(name, tag) for name in ("grade", "unit_price", "old_price", "gtin")] == [None] * 4
    assert field_text("price", tag) == f"49,90{NBSP}₽"
    assert field_text("caption", tag, "АКЦИЯ") == "АКЦИЯ"


def test_control_characters_never_reach_the_paper():
    assert printable("Сыр\tгауда\u200b 45%\x00") == "Сыр гауда 45%"
    assert field_text("name", milk(name="Кефир\n1 %\x07")) == f"Кефир 1{NBSP}%"


def test_lines_break_at_spaces_but_never_inside_a_price():
    assert words(f"Сыр  гауда {rubles(123450)} за 1 кг") == ["Сыр", "гауда", f"1{NNBSP}234,50{NBSP}₽", "за", "1", "кг"]


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("Сыр 40% 250 г", f"Сыр 40% 250{NBSP}г"),
        ("Молоко 3,2 % 0,9 л", f"Молоко 3,2{NBSP}% 0,9{NBSP}л"),
        ("Яйца 10 шт.", f"Яйца 10{NBSP}шт."),
        ("Вода 5 литров", "Вода 5 литров"),  # a word, not a unit
        ("Хлеб 2 года", "Хлеб 2 года"),
    ],
)
def test_a_number_and_its_unit_are_bound_by_a_no_break_space(name: str, bound: str):
    assert unbreakable_units(name) == bound
