"""ZPL II from the hub's side: the bytes of a tag, read back by zplkit (an independent ZPL
renderer) and zxing-cpp, and the ``~HS`` answer read into a ``LabelStatus``."""

from __future__ import annotations

import re

import pytest
import zplkit
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bus.payloads import DeviceError, ErrorCode
from devices.labels.raster import Bitmap, Box, DotBarcode, DotLabel, ResidentText
from devices.labels.zpl import ZPL, compress_rows, expand_graphic, field_data, graphic_field, ink_rows, repeat_count
from tests.devices.labels.dot_tags import (
    BARCODES,
    NAME,
    PRICE,
    all_ink,
    decoded,
    hand_tag,
    ocr,
    png_image,
    same_pixels,
)

DPI = {8: 203, 12: 300}


def zplkit_png(data: bytes, dpmm: int) -> Image.Image:
    """zplkit's picture of one label.  zplkit draws labels, not print runs: it refuses
    ``^PQ``, so the one ``^PQ`` is checked here and left out of what it is given."""
    assert len(re.findall(rb"\^PQ\d+\^XZ", data)) == 1
    document = zplkit.render(re.sub(rb"\^PQ\d+", b"", data), zplkit.Options(dpi=DPI[dpmm]))
    assert len(document.labels) == 1
    return png_image(document.labels[0].png())


@pytest.mark.parametrize("dpmm", [8, 12])
def test_a_tag_in_zpl_is_drawn_by_zplkit_as_it_was_laid_out(dpmm: int):
    tag = hand_tag(dpmm)
    image = zplkit_png(ZPL.label_bytes(tag.label, copies=1), dpmm)
    assert image.size == (tag.label.width, tag.label.height)
    assert decoded(image) == BARCODES
    # The bitmaps arrive dot for dot (compressed on the way), the rules solid where placed.
    assert same_pixels(image, tag.name) and same_pixels(image, tag.price)
    assert all(all_ink(image, rule) for rule in tag.rules)


def test_the_bars_of_a_barcode_begin_at_the_layouts_x():
    tag = hand_tag(8)
    image = zplkit_png(ZPL.label_bytes(tag.label, copies=1), 8).convert("L")
    row = tag.ean13.y + tag.ean13.height // 2
    first_ink = next(x for x in range(tag.label.width) if x > tag.ean13.x - 8 and image.getpixel((x, row)) < 128)
    assert first_ink == tag.ean13.x  # EAN-13 starts with a bar: the guard's first module


def test_zplkit_reads_the_price_and_the_cyrillic_name():
    image = zplkit_png(ZPL.label_bytes(hand_tag(8).label, copies=1), 8)
    text = ocr(image)
    assert NAME in text
    # tesseract drops the narrow thousands space; the digits and the comma must be exact.
    assert PRICE.replace(" ", "") in text.replace(" ", "")


def test_the_format_has_its_size_home_utf8_and_copies():
    tag = hand_tag(8)
    data = ZPL.label_bytes(tag.label, copies=3)
    assert data.startswith(b"^XA^PW464^LL320^LH0,0^CI28\n")
    assert data.endswith(b"^PQ3^XZ\n")
    assert b"^FO38,160^BY2^BEN,80,Y,N^FD460123456789^FS" in data  # 12 digits: the printer adds the 13th
    assert b"^BCN,80,Y,N,N,A^FH^FDSKU-7^FS" in data
    assert b"^FO16,148^GB432,4,4^FS" in data


def test_resident_text_goes_as_utf8_with_carets_and_tildes_escaped():
    label = DotLabel(200, 100, 8, (ResidentText(5, 6, 30, "Сыр ^XZ~JA_"),))
    data = ZPL.label_bytes(label, copies=1)
    assert "^FO5,6^A0N,30,30^FH^FDСыр _5EXZ_7EJA_5F^FS".encode() in data
    assert data.count(b"^XZ") == 1  # the name cannot end the format
    assert field_data("a\nb") == "a_0Ab"


def test_copies_and_barcodes_it_cannot_print_are_refused_as_bad_requests():
    label = hand_tag(8).label
    for copies in (0, -1, 100_000_000):
        with pytest.raises(DeviceError) as refused:
            ZPL.label_bytes(label, copies=copies)
        assert refused.value.code == ErrorCode.INVALID_REQUEST
    for bad in ("46012345", "46012345678x3", ""):
        with pytest.raises(DeviceError, match="EAN-13"):
            ZPL.label_bytes(DotLabel(100, 100, 8, (DotBarcode(0, 0, 10, 2, "ean13", bad, True),)), copies=1)
    with pytest.raises(DeviceError, match="Code 128"):
        ZPL.label_bytes(DotLabel(100, 100, 8, (DotBarcode(0, 0, 10, 2, "code128", "", True),)), copies=1)


# -- the compression ------------------------------------------------------------------------


def test_repeat_counts_follow_the_programming_guide():
    assert [repeat_count(n) for n in (1, 2, 19, 20, 21, 40, 327, 400, 419)] == [
        "G",
        "H",
        "Y",
        "g",
        "gG",
        "h",
        "vM",  # the guide's example: vMB is 327 B's (320 + 7)
        "z",
        "zY",
    ]
    with pytest.raises(ValueError):
        repeat_count(420)


def test_rows_are_cut_short_with_commas_bangs_and_colons():
    rows = [bytes(4), b"\xff\x00\x00\x00", b"\xff\x00\x00\x00", b"\x0f\xff\xff\xff", b"\x12\x34\x56\x78"]
    assert compress_rows(rows) == ",FF,:0!12345678"
    assert expand_graphic(",FF,:0!12345678", 4, 5) == b"".join(rows)


def test_a_guide_style_compressed_graphic_expands_as_a_printer_reads_it():
    # 3 bytes a row: a full row of 6 F's (counted), a row "0F" then zeros, the same again, a row of ones.
    assert expand_graphic("LF0F,:!", 3, 4) == b"\xff\xff\xff\x0f\x00\x00\x0f\x00\x00\xff\xff\xff"
    # Short data is padded with white rows; a stray character is refused.
    assert expand_graphic("FF", 1, 2) == b"\xff\x00"
    with pytest.raises(ValueError):
        expand_graphic("F#", 1, 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.data())
def test_any_bitmap_comes_back_from_its_graphic_field(width: int, height: int, data: st.DataObject):
    runs = data.draw(st.lists(st.sampled_from([0, 255]), min_size=width * height, max_size=width * height))
    image = Image.new("L", (width, height))
    image.putdata(runs)
    bits = image.convert("1")
    field = graphic_field(bits)
    _, total, _, row_bytes, body = field.split(",", 4)
    rows = ink_rows(bits)
    assert expand_graphic(body, int(row_bytes), int(total) // int(row_bytes)) == b"".join(rows)


def test_zplkit_draws_a_compressed_graphic_dot_for_dot():
    # Rows of solid ink (one repeated), a run past 400 hex digits, a run inside a row.
    image = Image.new("1", (1704, 6), 1)
    image.paste(0, (0, 1, 1704, 3))
    image.paste(0, (0, 4, 1650, 5))
    image.paste(0, (3, 5, 451, 6))
    bitmap = Bitmap(4, 2, image)
    data = ZPL.label_bytes(DotLabel(1712, 10, 8, (bitmap,)), copies=1)
    assert b":" in data and b"!" in data and b"z" in data
    assert same_pixels(zplkit_png(data, 8), bitmap)


def test_a_box_is_a_filled_rule():
    box = Box(10, 20, 30, 6)
    image = zplkit_png(ZPL.label_bytes(DotLabel(100, 50, 8, (box,)), copies=1), 8)
    assert all_ink(image, box)
    assert image.convert("L").getpixel((9, 22)) == 255 and image.convert("L").getpixel((40, 22)) == 255


# -- the status answer ----------------------------------------------------------------------

FINE = b"\x02030,0,0,0320,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n"


def host_status(first: str = "030,0,0,0320,000,0,0,0,000,0,0,0", second: str = "001,0,0,0,1,2,6,0,00000000,1,000"):
    return b"\x02" + first.encode() + b"\x03\r\n\x02" + second.encode() + b"\x03\r\n\x021234,0\x03\r\n"


def test_a_fine_printer_says_so():
    assert ZPL.status_reply_complete(FINE)
    assert ZPL.parse_status(FINE).ok


@pytest.mark.parametrize(
    ("first", "second", "problems"),
    [
        ("030,1,0,0320,000,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000000,1,000", ("paper_out",)),
        ("030,0,1,0320,002,0,0,0,000,0,0,0", "001,0,0,0,1,2,6,0,00000002,1,000", ("paused",)),
        ("030,0,0,0320,000,0,0,0,000,0,0,0", "001,0,1,0,1,2,6,0,00000000,1,000", ("head_open",)),
        ("030,0,0,0320,000,0,0,0,000,0,0,0", "001,0,0,1,1,2,6,0,00000000,1,000", ("ribbon_out",)),
        ("030,1,1,0320,000,0,0,0,000,0,0,1", "001,0,1,0,1,2,6,0,00000000,1,000", ("paper_out", "head_open", "paused", "head_too_hot")),
        ("030,0,0,0320,000,0,0,0,000,1,1,0", "001,0,0,0,1,2,6,0,00000000,1,000", ("settings_lost", "head_too_cold")),
    ],
)  # fmt: skip
def test_each_flag_of_the_host_status_is_named(first: str, second: str, problems: tuple[str, ...]):
    assert ZPL.parse_status(host_status(first, second)).problems == problems


def test_an_answer_still_coming_is_not_complete_and_garbage_is_refused():
    assert not ZPL.status_reply_complete(FINE[:40])
    for garbage in (b"", b"hello", FINE[:40], host_status("030,0,0"), host_status(second="001,0,x,0,1,2,6,0,0,1,000")):
        with pytest.raises(ValueError):
            ZPL.parse_status(garbage)


def test_feed_and_calibrate_are_the_documented_commands():
    assert (ZPL.status_query, ZPL.feed_bytes, ZPL.calibrate_bytes) == (b"~HS", b"~PH", b"~JC")
