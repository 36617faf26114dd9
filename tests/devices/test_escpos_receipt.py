"""A receipt document becomes exactly the ESC/POS bytes the printer should get.

The bytes are written out by hand from the ESC/POS command reference, so a change in
layout, or in python-escpos underneath, shows up here first.
"""

from __future__ import annotations

import base64
import io

import pytest
from pydantic import ValidationError

from devices.escpos_receipt import (
    PaperLayout,
    ReceiptDocument,
    ReceiptRefused,
    cut_bytes,
    drawer_kick_bytes,
    key_value_lines,
    receipt_bytes,
)

TM_T88V = PaperLayout(profile="TM-T88V", columns=42, code_page="CP866")

ESC_INIT = b"\x1b@"
CP866_ON_EPSON = b"\x1bt\x11"  # ESC t 17
NORMAL_SIZE = b"\x1d!\x00"  # GS ! 0
BOLD_ON, BOLD_OFF = b"\x1bE\x01", b"\x1bE\x00"
LEFT, CENTER, RIGHT = b"\x1ba\x00", b"\x1ba\x01", b"\x1ba\x02"
FEED_6_THEN_PARTIAL_CUT = b"\x1bd\x06\x1dV\x01"  # ESC d 6, GS V 1

#: A small receipt and its bytes, written out by hand.
SMALL_RECEIPT = [
    {"type": "text", "text": "Чек", "bold": True, "align": "center"},
    {"type": "kv", "key": "Итого", "value": "10.00"},
    {"type": "cut"},
]
SMALL_RECEIPT_BYTES = (
    ESC_INIT
    + CP866_ON_EPSON
    + NORMAL_SIZE + BOLD_ON + CENTER
    + "Чек".encode("cp866") + b"\n"  # 97 a5 aa 0a
    + NORMAL_SIZE + BOLD_OFF + LEFT
    + "Итого".encode("cp866") + b" " * 32 + b"10.00\n"  # 5 + 32 + 5 = 42 columns
    + FEED_6_THEN_PARTIAL_CUT
)  # fmt: skip


def document(*blocks: dict) -> ReceiptDocument:
    return ReceiptDocument.model_validate({"blocks": list(blocks)})


def png(width: int, height: int) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (width, height), 1).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_small_receipt_is_exactly_these_bytes():
    assert receipt_bytes(document(*SMALL_RECEIPT).blocks, TM_T88V) == SMALL_RECEIPT_BYTES
    assert "Чек".encode("cp866") == b"\x97\xa5\xaa"


def test_the_profile_decides_the_code_page_number():
    # Wincor Nixdorf's TH230 keeps CP866 at page 7, not Epson's 17: data, not a branch.
    layout = PaperLayout(profile="TH230", columns=44, code_page="CP866")
    data = receipt_bytes(document({"type": "text", "text": "Сдача"}).blocks, layout)
    assert data == ESC_INIT + b"\x1bt\x07" + NORMAL_SIZE + BOLD_OFF + LEFT + "Сдача".encode("cp866") + b"\n"


def test_size_alignment_and_the_drawer_kick_first():
    data = receipt_bytes(
        document({"type": "text", "text": "OK", "double_width": True, "double_height": True, "align": "right"}).blocks,
        TM_T88V,
        drawer_pin=5,
    )
    kick_pin_5 = b"\x1bp\x01\x32\x32"  # ESC p 1 50 50: 100 ms on, 100 ms off
    assert data == ESC_INIT + CP866_ON_EPSON + kick_pin_5 + b"\x1d!\x11" + BOLD_OFF + RIGHT + b"OK\n"


def test_barcode_qr_feed_and_full_cut():
    data = receipt_bytes(
        document(
            {"type": "barcode", "code": "4601234567893"},
            {"type": "qr", "data": "https://x.ru/1", "size": 4},
            {"type": "feed", "lines": 2},
            {"type": "cut", "mode": "full"},
        ).blocks,
        TM_T88V,
    )
    barcode = (
        NORMAL_SIZE + BOLD_OFF + CENTER
        + b"\x1dh\x40\x1dw\x03\x1df\x00\x1dH\x02"  # height 64, module 3, HRI font A, HRI below
        + b"\x1dkC\x0d4601234567893"  # GS k 67 (EAN13, form B) 13 digits
    )  # fmt: skip
    qr = (
        NORMAL_SIZE + BOLD_OFF + CENTER
        + b"\x1d(k\x04\x001A2\x00"  # model 2
        + b"\x1d(k\x03\x001C\x04"  # module 4 dots
        + b"\x1d(k\x03\x001E1"  # error correction M
        + b"\x1d(k\x11\x001P0https://x.ru/1"  # store 14 bytes (+3)
        + b"\x1d(k\x03\x001Q0"  # print
    )  # fmt: skip
    assert data == ESC_INIT + CP866_ON_EPSON + barcode + qr + b"\x1bd\x02" + b"\x1bd\x06\x1dV\x00"


def test_code128_gets_its_code_set():
    data = receipt_bytes(document({"type": "barcode", "code": "ABC-12", "symbology": "CODE128"}).blocks, TM_T88V)
    assert data.endswith(b"\x1dkI\x08{BABC-12")


def test_key_and_value_share_a_line_or_take_two():
    assert key_value_lines("Хлеб", "45.00", 20) == ["Хлеб           45.00"]
    assert key_value_lines("Очень длинное название", "1.00", 20) == ["Очень длинное название", "                1.00"]


@pytest.mark.parametrize(
    ("block", "complaint"),
    [
        ({"type": "barcode", "code": "4601234567890"}, "wrong check digit"),
        ({"type": "barcode", "code": "460123456789"}, "13 digits"),
        ({"type": "barcode", "code": "96385075", "symbology": "EAN8"}, "wrong check digit"),
        ({"type": "barcode", "code": "abc", "symbology": "CODE39"}, "CODE39"),
        ({"type": "barcode", "code": "Ёлка", "symbology": "CODE128"}, "ASCII"),
        ({"type": "qr", "data": ""}, "at least 1"),
        ({"type": "image", "png_base64": "not base64!"}, "base64"),
        ({"type": "image", "png_base64": base64.b64encode(b"GIF89a").decode()}, "PNG"),
        ({"type": "feed", "lines": 0}, "greater than or equal to 1"),
        ({"type": "poem", "text": "…"}, "does not match any of the expected tags"),
        ({"type": "text", "text": "x", "colour": "red"}, "Extra inputs"),
    ],
)
def test_bad_blocks_are_refused_by_validation_before_any_bytes_exist(block: dict, complaint: str):
    with pytest.raises(ValidationError) as refused:
        document(block)
    assert complaint in str(refused.value)


def test_an_image_prints_as_a_raster_and_one_too_wide_is_refused():
    data = receipt_bytes(document({"type": "image", "png_base64": png(16, 2), "center": False}).blocks, TM_T88V)
    assert data.endswith(b"\x1dv0\x00\x02\x00\x02\x00" + b"\x00" * 4)  # GS v 0: 2 bytes wide, 2 rows, white
    with pytest.raises(ReceiptRefused, match="600 dots wide; this printer prints 512"):
        receipt_bytes(document({"type": "image", "png_base64": png(600, 2)}).blocks, TM_T88V)


def test_standalone_cut_and_drawer_commands():
    assert cut_bytes(TM_T88V, "partial") == FEED_6_THEN_PARTIAL_CUT
    assert cut_bytes(TM_T88V, "full") == b"\x1bd\x06\x1dV\x00"
    assert drawer_kick_bytes(2) == b"\x1bp\x00\x32\x32"
    assert drawer_kick_bytes(5, pulse_ms=200) == b"\x1bp\x01\x64\x64"
