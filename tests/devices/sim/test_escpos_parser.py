"""The simulator's ESC/POS framing, on bytes: every command found, whole, however it arrives."""

from __future__ import annotations

from devices.escpos_receipt import PaperLayout, ReceiptDocument, receipt_bytes
from devices.sim.escpos_parser import (
    Align,
    Barcode,
    Bold,
    CharacterSize,
    Cut,
    DrawerKick,
    EscposParser,
    Feed,
    Ignored,
    Initialize,
    LineFeed,
    PrintMode,
    RasterImage,
    SelectCodePage,
    StatusRequest,
    Text,
    TransmitStatus,
    TwoDimensionalCode,
    Unknown,
)


def parse(data: bytes) -> list:
    return EscposParser().feed(data)


def test_init_code_page_text_and_line_feeds():
    assert parse(b"\x1b@\x1bt\x11\x97\xa5\xaa\nOK\n") == [
        Initialize(),
        SelectCodePage(17),
        Text(b"\x97\xa5\xaa"),
        LineFeed(),
        Text(b"OK"),
        LineFeed(),
    ]


def test_styles_alignment_and_sizes():
    assert parse(b"\x1bE\x01\x1bE\x00\x1ba\x01\x1ba2\x1d!\x11\x1d!\x70\x1b!\x38") == [
        Bold(True),
        Bold(False),
        Align("center"),
        Align("right"),  # ASCII '2' works as 2
        CharacterSize(width=2, height=2),
        CharacterSize(width=8, height=1),
        PrintMode(bold=True, double_height=True, double_width=True),
    ]


def test_feeds_and_every_cut_form():
    assert parse(b"\x1bd\x03\x1bJ\x3c\x1dV\x00\x1dV\x01\x1dV1\x1dVB\x10\x1bi") == [
        Feed(lines=3),
        Feed(dots=60),
        Cut(partial=False),
        Cut(partial=True),
        Cut(partial=True),
        Cut(partial=True, feed_dots=16),
        Cut(partial=True),
    ]


def test_barcodes_in_both_forms():
    form_a = b"\x1dk\x024601234567893\x00"
    form_b = b"\x1dkC\x0d4601234567893"
    code128 = b"\x1dkI\x08{BABC-12"
    assert parse(form_a + form_b + code128) == [
        Barcode("EAN13", b"4601234567893", "A"),
        Barcode("EAN13", b"4601234567893", "B"),
        Barcode("CODE128", b"{BABC-12", "B"),
    ]


def test_qr_settings_store_and_print():
    data = b"\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C\x06\x1d(k\x11\x001P0https://x.ru/1\x1d(k\x03\x001Q0"
    assert parse(data) == [
        TwoDimensionalCode(49, 65, b"2\x00"),
        TwoDimensionalCode(49, 67, b"\x06"),
        TwoDimensionalCode(49, 80, b"https://x.ru/1"),
        TwoDimensionalCode(49, 81, b""),
    ]


def test_a_raster_image_is_measured_and_its_data_skipped():
    image = b"\x1dv0\x00\x02\x00\x03\x00" + b"\x0a" * 6  # the data has LF bytes: not line feeds
    assert parse(image + b"after\n") == [RasterImage(0, 2, 3), Text(b"after"), LineFeed()]
    assert RasterImage(0, 2, 3).width_dots == 16


def test_drawer_kicks_and_real_time_requests():
    assert parse(b"\x1bp\x00\x32\x32\x1bp1\x19\xfa\x10\x14\x01\x00\x01") == [
        DrawerKick(pin=2, on_ms=100, off_ms=100),
        DrawerKick(pin=5, on_ms=50, off_ms=500),
        DrawerKick(pin=2, on_ms=100, off_ms=100),
    ]
    assert parse(b"\x10\x04\x01\x10\x04\x04\x1dr\x01") == [StatusRequest(1), StatusRequest(4), TransmitStatus(1)]


def test_a_command_split_across_reads_comes_out_whole_once():
    parser = EscposParser()
    stream = b"\x1bt\x11" + b"\x1dkC\x0d4601234567893" + b"\x1d(k\x11\x001P0https://x.ru/1" + b"\x10\x04\x04"
    seen = []
    for byte in stream:  # the worst case: one byte per read
        seen += parser.feed(bytes([byte]))
    assert seen == [
        SelectCodePage(17),
        Barcode("EAN13", b"4601234567893", "B"),
        TwoDimensionalCode(49, 80, b"https://x.ru/1"),
        StatusRequest(4),
    ]
    assert parser.pending == 0


def test_known_settings_are_skipped_by_length_and_unknown_ones_reported():
    commands = parse(b"\x1dh\x40\x1dw\x03\x1b-\x01\x1b2\x1bZ" + b"ok")
    assert commands[:4] == [Ignored(b"\x1dh\x40"), Ignored(b"\x1dw\x03"), Ignored(b"\x1b-\x01"), Ignored(b"\x1b2")]
    assert commands[4:] == [Unknown(b"\x1bZ"), Text(b"ok")]


def test_everything_the_hub_sends_for_a_receipt_is_understood():
    document = ReceiptDocument.model_validate(
        {
            "blocks": [
                {"type": "text", "text": "Магазин", "bold": True, "double_height": True, "align": "center"},
                {"type": "line"},
                {"type": "kv", "key": "Хлеб", "value": "45.00"},
                {"type": "barcode", "code": "4601234567893"},
                {"type": "qr", "data": "https://x.ru/1"},
                {"type": "feed", "lines": 1},
                {"type": "cut"},
            ]
        }
    )
    commands = parse(receipt_bytes(document.blocks, PaperLayout("TM-T88V", 42, "CP866")))
    assert not [c for c in commands if isinstance(c, Unknown)]
    assert commands[-1] == Cut(partial=True)
