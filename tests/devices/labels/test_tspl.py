"""TSPL from the hub's side: the exact lines of a tag, bitmaps with TSPL's 0-prints sense,
and the ``<ESC>!?`` byte read into a ``LabelStatus``.  (No TSPL renderer runs offline;
the simulated TSC in tests/devices/sim/test_tspl_printer.py prints these bytes and
zxing-cpp and tesseract read its labels.)"""

from __future__ import annotations

import pytest
from PIL import Image

from bus.payloads import DeviceError, ErrorCode
from devices.labels.raster import Bitmap, DotBarcode, DotLabel, ResidentText
from devices.labels.tspl import TSPL, bitmap_rows, quoted
from tests.devices.labels.dot_tags import hand_tag


def lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def test_a_tag_is_its_setup_its_items_and_print_with_copies():
    tag = hand_tag(8)
    sent = lines(TSPL.label_bytes(tag.label, copies=4))
    assert sent[:6] == [
        b"SIZE 58 mm,40 mm",
        b"GAP 2 mm,0 mm",
        b"DIRECTION 1",
        b"REFERENCE 0,0",
        b"CODEPAGE UTF-8",
        b"CLS",
    ]
    assert sent[-1] == b"PRINT 1,4"
    assert b'BARCODE 38,160,"EAN13",80,1,0,2,2,"460123456789"' in sent  # 12 digits: the printer adds the 13th
    assert b'BARCODE 262,160,"128",80,1,0,2,2,"SKU-7"' in sent
    assert b"BAR 16,148,432,4" in sent and b"BAR 0,312,464,8" in sent


def test_a_size_in_dots_that_is_no_whole_millimetre_keeps_its_fraction():
    sent = lines(TSPL.label_bytes(DotLabel(470, 323, 12, (ResidentText(1, 2, 48, "x"),)), copies=1))
    assert sent[0] == b"SIZE 39.17 mm,26.92 mm"


def test_a_bitmaps_black_dots_are_zero_bits_and_its_padding_is_white():
    image = Image.new("1", (9, 2), 1)
    image.putpixel((0, 0), 0)
    image.putpixel((8, 1), 0)
    assert bitmap_rows(image) == (2, b"\x7f\xff\xff\x7f")
    data = TSPL.label_bytes(DotLabel(100, 50, 8, (Bitmap(3, 4, image),)), copies=1)
    # Mode 1 (OR): a bitmap's white leaves a neighbour's ink alone.
    assert b"\r\nBITMAP 3,4,2,2,1,\x7f\xff\xff\x7f\r\nPRINT 1,1\r\n" in data


def test_resident_text_is_sized_in_points_and_quotes_are_escaped():
    sent = lines(TSPL.label_bytes(DotLabel(200, 100, 8, (ResidentText(5, 6, 32, 'Сыр "Российский"'),)), copies=1))
    # 32 dots at 8 per mm is 4 mm: 11.3 points.
    assert 'TEXT 5,6,"0",0,11,11,"Сыр \\["]Российский\\["]"'.encode() in sent
    assert quoted("a\r\nb") == "a  b"


def test_copies_and_barcodes_it_cannot_print_are_refused_as_bad_requests():
    label = hand_tag(8).label
    for copies in (0, 1_000_000_000):
        with pytest.raises(DeviceError) as refused:
            TSPL.label_bytes(label, copies=copies)
        assert refused.value.code == ErrorCode.INVALID_REQUEST
    with pytest.raises(DeviceError, match="EAN-13"):
        TSPL.label_bytes(DotLabel(100, 100, 8, (DotBarcode(0, 0, 10, 2, "ean13", "12345", True),)), copies=1)
    with pytest.raises(DeviceError, match="Code 128"):
        TSPL.label_bytes(DotLabel(100, 100, 8, (DotBarcode(0, 0, 10, 2, "code128", "", True),)), copies=1)


@pytest.mark.parametrize(
    ("byte", "problems"),
    [
        (0x00, ()),
        (0x20, ()),  # printing is no problem
        (0x01, ("head_open",)),
        (0x02, ("paper_jam",)),
        (0x04, ("paper_out",)),
        (0x08, ("ribbon_out",)),
        (0x10, ("paused",)),
        (0x40, ("cover_open",)),
        (0x80, ("temperature_out_of_range",)),
        (0x0D, ("paper_out", "ribbon_out", "head_open")),
    ],
)
def test_each_bit_of_the_status_byte_is_named(byte: int, problems: tuple[str, ...]):
    assert TSPL.status_reply_complete(bytes([byte]))
    assert TSPL.parse_status(bytes([byte])).problems == problems


def test_no_byte_or_more_than_one_is_not_a_status():
    assert not TSPL.status_reply_complete(b"")
    for garbage in (b"", b"\x00\x00"):
        with pytest.raises(ValueError):
            TSPL.parse_status(garbage)


def test_query_feed_and_calibrate_are_the_documented_commands():
    assert (TSPL.status_query, TSPL.feed_bytes, TSPL.calibrate_bytes) == (b"\x1b!?", b"FORMFEED\r\n", b"GAPDETECT\r\n")
