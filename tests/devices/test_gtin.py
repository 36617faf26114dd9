"""Scanned and printed GTINs: check digits and a guess at the symbology."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.gtin import gtin_check_digit, guess_symbology, is_valid_gtin


@pytest.mark.parametrize("code", ["4601234567893", "96385074", "036000291452", "10012345678902", "4006381333931"])
def test_real_gtins_are_valid(code: str):
    assert is_valid_gtin(code)


@pytest.mark.parametrize("code", ["4601234567890", "460123456789", "46012345678931", "ABCDEFGHIJKLM", ""])
def test_wrong_check_digits_and_lengths_are_refused(code: str):
    assert not is_valid_gtin(code)


@given(st.text(alphabet="0123456789", min_size=7, max_size=13))
def test_the_check_digit_makes_any_body_valid_and_any_other_digit_invalid(body: str):
    digit = gtin_check_digit(body)
    assert is_valid_gtin(body + str(digit)) == (len(body) + 1 in (8, 12, 13, 14))
    assert not is_valid_gtin(body + str((digit + 1) % 10))


def test_symbology_is_guessed_from_the_content():
    assert guess_symbology("4601234567893") == "EAN-13"
    assert guess_symbology("96385074") == "EAN-8"
    assert guess_symbology("036000291452") == "UPC-A"
    assert guess_symbology("https://shop.example/order/77") == "QR"
    assert guess_symbology("PICKUP-4711") == "Code 39"
