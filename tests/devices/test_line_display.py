"""The customer display's bytes: exactly what a 2x20 Epson-mode display is sent.

The expected frames are written out byte by byte from the Epson DM-D command set, not
built from the module's constants, so a wrong constant fails here.
"""

from __future__ import annotations

import pytest

from devices.line_display import LineDisplay, cursor_to, fit, pair

# Bytes of the command set, spelled out once for the expectations below.
ESC_AT = b"\x1b\x40"
CP866 = b"\x1b\x74\x11"  # ESC t 17
OVERWRITE = b"\x1f\x01"  # US MD1
LINE_1 = b"\x1f\x24\x01\x01"  # US $ 1 1
LINE_2 = b"\x1f\x24\x01\x02"  # US $ 1 2


def test_initialise_resets_selects_cyrillic_and_overwrite_mode():
    assert LineDisplay().initialise() == b"\x1b\x40\x1b\x74\x11\x1f\x01"


def test_clear_and_home_are_single_control_bytes():
    display = LineDisplay()
    assert display.clear() == b"\x0c"
    assert display.home() == b"\x0b"


def test_a_sale_line_in_russian_is_sent_in_cp866_and_padded_to_twenty_cells():
    frame = LineDisplay().show("Молоко 1л", "ИТОГО 89.90")
    moloko = bytes([0x8C, 0xAE, 0xAB, 0xAE, 0xAA, 0xAE]) + b" 1" + bytes([0xAB]) + b" " * 11
    itogo = bytes([0x88, 0x92, 0x8E, 0x83, 0x8E]) + b" 89.90" + b" " * 9
    assert frame == CP866 + OVERWRITE + LINE_1 + moloko + LINE_2 + itogo
    assert len(moloko) == len(itogo) == 20


def test_each_line_is_aligned_on_its_own():
    frame = LineDisplay().show("Итого", "89.90", align1="center", align2="right")
    itogo = bytes([0x88, 0xE2, 0xAE, 0xA3, 0xAE])
    assert frame == CP866 + OVERWRITE + LINE_1 + b" " * 7 + itogo + b" " * 8 + LINE_2 + b" " * 15 + b"89.90"


def test_long_text_is_cut_at_the_last_column_without_an_ellipsis():
    display = LineDisplay()
    top, bottom = display.layout("Шоколад молочный с цельным фундуком", "x" * 25, align2="right")
    assert top == "Шоколад молочный с ц"
    assert bottom == "x" * 20  # alignment never hides the start of a long text


def test_a_name_and_price_pair_keeps_the_price_whole():
    display = LineDisplay()
    assert display.line("Шоколад молочный с фундуком", right="129.90") == "Шоколад молоч 129.90"
    assert display.line("Хлеб", right="45.00") == "Хлеб" + " " * 11 + "45.00"
    assert display.line("", right="45.00") == " " * 15 + "45.00"
    assert display.line("Хлеб", right="") == "Хлеб" + " " * 16
    # A "price" as wide as the display leaves no room for the name.
    assert display.line("Хлеб", right="1234567890123456789") == " 1234567890123456789"


def test_what_the_code_page_cannot_show_becomes_a_question_mark():
    display = LineDisplay()
    assert display.line("Café €5 ア") == "Caf? ?5 ?" + " " * 11
    assert display.show("€", "").startswith(CP866 + OVERWRITE + LINE_1 + b"?")


def test_control_characters_never_reach_the_display_as_commands():
    display = LineDisplay()
    frame = display.show("a\x1b@b\tc\nd\x0c", "e\u00adf")  # an ESC, a tab, a newline, FF; a soft hyphen
    assert display.layout("a\x1b@b\tc\nd\x0c", "e\u00adf") == ("a @b c d".ljust(20), "ef".ljust(20))
    body = frame[len(CP866 + OVERWRITE + LINE_1) :]
    assert b"\x1b" not in body and b"\x0c" not in body and b"\t" not in body


def test_a_decomposed_letter_takes_one_cell():
    display = LineDisplay()
    decomposed = "Чаи\u0306"  # "Чай" typed with a combining breve
    assert display.line(decomposed) == "Чай" + " " * 17


def test_another_code_page_and_width_come_from_the_options():
    latin = LineDisplay(columns=16, code_page="cp858")
    assert latin.show("Café", "€ 2,50") == (
        b"\x1b\x74\x13" + OVERWRITE + LINE_1 + b"Caf\x82" + b" " * 12 + LINE_2 + b"\xd5 2,50" + b" " * 10
    )
    clone = LineDisplay(code_page="cp866", code_page_number=7)  # a clone that numbers pages its own way
    assert clone.initialise() == ESC_AT + b"\x1b\x74\x07" + OVERWRITE


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"code_page": "utf-8"}, "single-byte"),
        ({"code_page": "koi8-r"}, "code_page_number"),
        ({"code_page": "no-such-page"}, "single-byte"),
        ({"columns": 0}, "columns"),
    ],
)
def test_a_display_that_cannot_be_driven_is_refused(settings, complaint):
    with pytest.raises(ValueError, match=complaint):
        LineDisplay(**settings)


def test_cursor_positions_count_from_one_and_stay_on_the_screen():
    assert cursor_to(1, 1) == b"\x1f\x24\x01\x01"
    assert cursor_to(20, 2) == b"\x1f\x24\x14\x02"
    for column, line in ((0, 1), (21, 1), (1, 3)):
        with pytest.raises(ValueError):
            cursor_to(column, line)


def test_fit_and_pair_rules():
    assert fit("ab", 5, "left") == "ab   "
    assert fit("ab", 5, "center") == " ab  "  # the odd blank goes after the text
    assert fit("ab", 5, "right") == "   ab"
    assert fit("abcdef", 5, "right") == "abcde"
    assert pair("abcdef", "12", 6) == "abc 12"
